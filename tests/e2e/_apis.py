"""Small clients for the stack's real query APIs, with polling: telemetry arrives asynchronously (batching,
tail-sampling decision wait, span-metrics flush, scrape and evaluation intervals)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any, TypeVar

import httpx

from otel_secretary.testing.receivers import HttpReceiver, SmtpMailbox

T = TypeVar("T")


def eventually(probe: Callable[[], T | None], *, timeout: float = 60.0, what: str = "condition") -> T:
    """Poll ``probe`` until it returns something truthy; fail with the last error if it never does."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            result = probe()
            if result:
                return result
            last = result
        except (httpx.HTTPError, AssertionError, KeyError, IndexError) as exc:
            last = exc
        time.sleep(0.5)
    raise AssertionError(f"{what} not reached after {timeout}s (last: {last!r})")


@dataclass
class Jaeger:
    url: str

    def services(self) -> list[str]:
        return list(httpx.get(f"{self.url}/api/services", timeout=5).json()["data"] or [])

    def traces(self, service: str, limit: int = 200, **params: str) -> list[dict[str, Any]]:
        response = httpx.get(
            f"{self.url}/api/traces",
            params={"service": service, "limit": str(limit), "lookback": "1h", **params},
            timeout=10,
        )
        response.raise_for_status()
        return list(response.json()["data"] or [])

    def all_traces(self) -> list[dict[str, Any]]:
        """Every stored trace of every service: what a full scan for leaked PII must read."""
        return [trace for service in self.services() for trace in self.traces(service, limit=5000)]


@dataclass
class Prometheus:
    url: str

    def query(self, promql: str) -> list[dict[str, Any]]:
        response = httpx.get(f"{self.url}/api/v1/query", params={"query": promql}, timeout=10)
        response.raise_for_status()
        return list(response.json()["data"]["result"])

    def alerts(self) -> list[dict[str, Any]]:
        return list(httpx.get(f"{self.url}/api/v1/alerts", timeout=5).json()["data"]["alerts"])


@dataclass
class Alertmanager:
    url: str

    def alerts(self) -> list[dict[str, Any]]:
        return list(httpx.get(f"{self.url}/api/v2/alerts", timeout=5).json())


class WebhookReceiver(HttpReceiver):
    """A real HTTP endpoint that Alertmanager delivers notifications to: a plain webhook, or PagerDuty's
    and Slack's APIs as the generated routing calls them (told apart by path)."""

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def received(self, alertname: str, path: str | None = None) -> list[dict[str, Any]]:
        """Payloads that name ``alertname``: webhook payloads in their labels, PagerDuty and Slack ones in
        the rendered title/summary."""
        found = []
        for payload in self.bodies(path):
            if "alerts" in payload:
                named = any(a["labels"].get("alertname") == alertname for a in payload["alerts"])
            else:
                named = f"] {alertname}" in json.dumps(payload)
            if named:
                found.append(payload)
        return found


@contextmanager
def webhook_receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver(status=200) as receiver:
        yield receiver


class Mailbox(SmtpMailbox):
    """A real SMTP server standing in for the generated routing's e-mail receiver."""

    def about(self, alertname: str) -> list[EmailMessage]:
        return [m for m in list(self.messages) if alertname in str(m["Subject"])]


@contextmanager
def smtp_mailbox() -> Iterator[Mailbox]:
    with Mailbox() as mailbox:
        yield mailbox


def spans_of(trace: dict[str, Any]) -> list[dict[str, Any]]:
    return list(trace["spans"])


def tags(span: dict[str, Any]) -> dict[str, Any]:
    return {t["key"]: t["value"] for t in span.get("tags", [])}


def parent_id(span: dict[str, Any]) -> str | None:
    for ref in span.get("references", []):
        if ref.get("refType") == "CHILD_OF":
            return str(ref["spanID"])
    return None
