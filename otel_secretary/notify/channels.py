"""Notification channels: SMTP e-mail, Slack incoming webhook, signed generic webhook, PagerDuty Events v2.

Each channel turns one :class:`~otel_secretary.rules.engine.Notification` into one request and raises on
failure; retries, timeouts between attempts and isolation live in :mod:`otel_secretary.notify.dispatcher`.
Payload shapes follow the services' documented formats (Slack Block Kit, PagerDuty Events API v2).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import smtplib
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx
import jinja2

from otel_secretary.alerting.model import Notification
from otel_secretary.notify.masking import scrub

PAGERDUTY_URL = "https://events.pagerduty.com/v2/enqueue"
SIGNATURE_HEADER = "X-Otel-Secretary-Signature"
TIMESTAMP_HEADER = "X-Otel-Secretary-Timestamp"
_STATUS = {
    "trigger": "FIRING",
    "reminder": "FIRING",
    "resolve": "RESOLVED",
    "acknowledge": "ACKNOWLEDGED",
    "test": "TEST",
}
_PD_SEVERITY = {"page": "critical", "ticket": "warning", "info": "info"}
_templates = jinja2.Environment(
    loader=jinja2.PackageLoader("otel_secretary.notify", "templates"),
    autoescape=jinja2.select_autoescape(["html.j2"]),
    keep_trailing_newline=True,
)


class ChannelError(RuntimeError):
    """A delivery failed; ``retryable`` is False for answers that retrying cannot fix (4xx except 429)."""

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


class Channel(Protocol):
    name: str
    severities: frozenset[str]

    def send(self, notification: Notification) -> None: ...


def _iso(timestamp: float | None) -> str:
    return "" if not timestamp else datetime.fromtimestamp(timestamp, UTC).isoformat().replace("+00:00", "Z")


def status(notification: Notification) -> str:
    return _STATUS.get(notification.kind, notification.kind.upper())


def _title(n: Notification) -> str:
    return f"[{status(n)}] {n.alertname} ({n.severity}): {n.annotations.get('summary', '')}".strip()


def _check(response: httpx.Response, channel: str, secrets: Sequence[str] = ()) -> None:
    if response.status_code < 300:
        return
    retryable = response.status_code >= 500 or response.status_code == 429
    text = scrub(response.text[:200], secrets)
    raise ChannelError(f"{channel}: HTTP {response.status_code} {text}", retryable=retryable)


class _HttpChannel:
    def __init__(self, name: str, severities: Sequence[str], timeout: float) -> None:
        self.name = name
        self.severities = frozenset(severities)
        self.timeout = timeout

    def _secrets(self, url: str) -> list[str]:
        """What an error message must never carry: the URL, its path (tokens live there) and keys."""
        path = urlsplit(url).path
        return [url, path if path not in ("", "/") else "", *self._extra_secrets()]

    def _extra_secrets(self) -> list[str]:
        return []

    def _post(self, url: str, body: bytes, headers: Mapping[str, str]) -> None:
        secrets = self._secrets(url)
        try:
            response = httpx.post(
                url,
                content=body,
                headers={"Content-Type": "application/json", **headers},
                timeout=self.timeout,
            )
        except httpx.HTTPError as exc:
            raise ChannelError(scrub(f"{self.name}: {type(exc).__name__}: {exc}", secrets)) from None
        _check(response, self.name, secrets)


class SlackChannel(_HttpChannel):
    """Slack incoming webhook: ``text`` fallback plus Block Kit blocks (header, section, fields, context)."""

    def __init__(self, name: str, url: str, severities: Sequence[str] = (), timeout: float = 5.0) -> None:
        super().__init__(name, severities, timeout)
        self.url = url

    def payload(self, n: Notification) -> dict[str, Any]:
        fields = [{"type": "mrkdwn", "text": f"*{k}*\n{v}"} for k, v in sorted(n.labels.items())[:10]]
        context = f"fingerprint `{n.fingerprint}` · started {_iso(n.starts_at)}"
        if n.annotations.get("runbook_url"):
            context += f" · <{n.annotations['runbook_url']}|runbook>"
        return {
            "text": _title(n),
            "blocks": [
                {"type": "header", "text": {"type": "plain_text", "text": _title(n)[:150]}},
                {
                    "type": "section",
                    "text": {"type": "mrkdwn", "text": n.annotations.get("description") or " "},
                },
                {"type": "section", "fields": fields},
                {"type": "context", "elements": [{"type": "mrkdwn", "text": context}]},
            ],
        }

    def send(self, notification: Notification) -> None:
        self._post(self.url, json.dumps(self.payload(notification)).encode(), {})


class WebhookChannel(_HttpChannel):
    """Generic webhook: Alertmanager-like JSON, signed HMAC-SHA256 over ``<timestamp>.<body>``.

    Receivers verify ``X-Otel-Secretary-Signature: sha256=<hex>`` and reject stale timestamps (replay).
    """

    def __init__(
        self, name: str, url: str, secret: str, severities: Sequence[str] = (), timeout: float = 5.0
    ):
        super().__init__(name, severities, timeout)
        self.url = url
        self.secret = secret.encode()

    def _extra_secrets(self) -> list[str]:
        return [self.secret.decode()]

    def payload(self, n: Notification) -> dict[str, Any]:
        state = "resolved" if n.kind == "resolve" else "firing"
        return {
            "version": "4",
            "receiver": self.name,
            "status": state,
            "kind": n.kind,
            "alerts": [
                {
                    "status": state,
                    "labels": dict(n.labels),
                    "annotations": dict(n.annotations),
                    "startsAt": _iso(n.starts_at),
                    "endsAt": _iso(n.ends_at),
                    "fingerprint": n.fingerprint,
                    "value": n.value,
                }
            ],
            "groupLabels": {"alertname": n.alertname},
            "commonLabels": dict(n.labels),
            "commonAnnotations": dict(n.annotations),
        }

    def send(self, notification: Notification) -> None:
        body = json.dumps(self.payload(notification), sort_keys=True).encode()
        timestamp = str(int(time.time()))
        digest = sign(self.secret, timestamp, body)
        self._post(self.url, body, {TIMESTAMP_HEADER: timestamp, SIGNATURE_HEADER: f"sha256={digest}"})


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    return hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


class PagerDutyChannel(_HttpChannel):
    """PagerDuty Events API v2: trigger, acknowledge, resolve, all with one stable ``dedup_key``."""

    def __init__(
        self,
        name: str,
        routing_key: str,
        url: str = PAGERDUTY_URL,
        severities: Sequence[str] = ("page",),
        timeout: float = 5.0,
        source: str = "otel-secretary",
    ) -> None:
        super().__init__(name, severities, timeout)
        self.url, self.routing_key, self.source = url, routing_key, source

    def _extra_secrets(self) -> list[str]:
        return [self.routing_key]

    def payload(self, n: Notification) -> dict[str, Any]:
        action = {"resolve": "resolve", "acknowledge": "acknowledge"}.get(n.kind, "trigger")
        body: dict[str, Any] = {
            "routing_key": self.routing_key,
            "event_action": action,
            "dedup_key": n.fingerprint,
        }
        if action == "trigger":
            body["payload"] = {
                "summary": _title(n)[:1024],
                "source": n.labels.get("service_name") or self.source,
                "severity": _PD_SEVERITY.get(n.severity, "error"),
                "timestamp": _iso(n.starts_at or n.at),
                "component": n.labels.get("span_name") or None,
                "group": n.labels.get("rule"),
                "class": n.alertname,
                "custom_details": {
                    "labels": dict(n.labels),
                    "annotations": dict(n.annotations),
                    "value": n.value,
                },
            }
            body["payload"] = {k: v for k, v in body["payload"].items() if v is not None}
            body["client"] = "otel-secretary"
            if n.annotations.get("runbook_url"):
                body["links"] = [{"href": n.annotations["runbook_url"], "text": "Runbook"}]
        return body

    def send(self, notification: Notification) -> None:
        self._post(self.url, json.dumps(self.payload(notification)).encode(), {})


class EmailChannel:
    """SMTP e-mail with a text and an HTML part (jinja2 templates; HTML autoescaped)."""

    def __init__(
        self,
        name: str,
        host: str,
        port: int,
        sender: str,
        to: Sequence[str],
        severities: Sequence[str] = (),
        timeout: float = 10.0,
        starttls: bool = False,
        username: str = "",
        password: str = "",
    ) -> None:
        self.name = name
        self.severities = frozenset(severities)
        self.host, self.port, self.sender, self.to = host, port, sender, list(to)
        self.timeout, self.starttls, self.username, self.password = timeout, starttls, username, password

    def message(self, n: Notification) -> EmailMessage:
        context = {"n": n, "status": status(n), "started": _iso(n.starts_at), "ended": _iso(n.ends_at)}
        message = EmailMessage()
        message["Subject"] = _title(n)
        message["From"] = self.sender
        message["To"] = ", ".join(self.to)
        # Same thread for trigger, reminder and resolve of one alert.
        message["References"] = f"<{n.fingerprint}@otel-secretary>"
        message.set_content(_templates.get_template("email.txt.j2").render(context))
        message.add_alternative(_templates.get_template("email.html.j2").render(context), subtype="html")
        return message

    def send(self, notification: Notification) -> None:
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                if self.starttls:
                    smtp.starttls()
                if self.username:
                    smtp.login(self.username, self.password)
                smtp.send_message(self.message(notification))
        except (OSError, smtplib.SMTPException) as exc:
            permanent = isinstance(exc, smtplib.SMTPResponseException) and 500 <= exc.smtp_code < 600
            message = scrub(f"{self.name}: {type(exc).__name__}: {exc}", [self.password, self.username])
            raise ChannelError(message, retryable=not permanent) from None
