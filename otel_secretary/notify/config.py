"""Channel configuration (``OTEL_SECRETARY_NOTIFY_CONFIG``): YAML, secrets from ``${ENV_VAR}`` references.

Example::

    retry: {attempts: 3, backoff_seconds: 1, timeout_seconds: 5}
    channels:
      - {name: oncall, type: pagerduty, routing_key: "${PAGERDUTY_ROUTING_KEY}", severities: [page]}
      - {name: alerts, type: slack, url: "${SLACK_WEBHOOK_URL}"}
      - {name: ops, type: email, host: localhost, port: 25, from: alerts@example.com, to: [ops@example.com],
         severities: [ticket]}
      - {name: hook, type: webhook, url: https://hooks.example.com/alerts, secret: "${WEBHOOK_SECRET}"}
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from otel_secretary import pii
from otel_secretary.notify.channels import (
    PAGERDUTY_URL,
    Channel,
    EmailChannel,
    PagerDutyChannel,
    SlackChannel,
    WebhookChannel,
)
from otel_secretary.notify.dispatcher import Dispatcher, RetryPolicy

_ENV_RE = re.compile(r"\$\{([A-Z_][A-Z0-9_]*)\}")


class NotifyConfigError(ValueError):
    pass


def _expand(value: Any, env: Mapping[str, str]) -> Any:
    if isinstance(value, str):
        return _ENV_RE.sub(lambda m: env.get(m.group(1), ""), value)
    if isinstance(value, list):
        return [_expand(v, env) for v in value]
    if isinstance(value, dict):
        return {k: _expand(v, env) for k, v in value.items()}
    return value


def build_channels(
    data: Mapping[str, Any], env: Mapping[str, str] | None = None
) -> tuple[list[Channel], RetryPolicy]:
    data = _expand(dict(data), os.environ if env is None else env)
    retry = data.get("retry") or {}
    timeout = float(retry.get("timeout_seconds", 5))
    policy = RetryPolicy(
        attempts=int(retry.get("attempts", 3)),
        backoff=float(retry.get("backoff_seconds", 1)),
        retry_failed_every=float(retry.get("retry_failed_every_seconds", 300)),
    )
    channels: list[Channel] = []
    for index, item in enumerate(data.get("channels") or []):
        where = f"channels[{index}]"
        try:
            name = str(item["name"])
            kind = item["type"]
            severities = tuple(item.get("severities") or ())
            if kind == "slack":
                channels.append(SlackChannel(name, item["url"], severities, timeout))
            elif kind == "webhook":
                if not item.get("secret"):
                    raise NotifyConfigError(f"{where}: a webhook needs a non-empty secret to sign with")
                channels.append(WebhookChannel(name, item["url"], item["secret"], severities, timeout))
            elif kind == "pagerduty":
                if not item.get("routing_key"):
                    raise NotifyConfigError(f"{where}: pagerduty needs routing_key")
                channels.append(
                    PagerDutyChannel(
                        name,
                        item["routing_key"],
                        item.get("url", PAGERDUTY_URL),
                        severities or ("page",),
                        timeout,
                    )
                )
            elif kind == "email":
                channels.append(
                    EmailChannel(
                        name,
                        item.get("host", "localhost"),
                        int(item.get("port", 25)),
                        item["from"],
                        list(item["to"]),
                        severities,
                        timeout,
                        bool(item.get("starttls", False)),
                        item.get("username", ""),
                        item.get("password", ""),
                    )
                )
            else:
                raise NotifyConfigError(f"{where}: unknown type {kind!r} (email, slack, webhook, pagerduty)")
        except KeyError as exc:
            raise NotifyConfigError(f"{where}: missing {exc.args[0]}") from None
    return channels, policy


def load_dispatcher(
    path: Path | None, failed_path: Path | None = None, masker: pii.Masker | None = None
) -> Dispatcher | None:
    """A dispatcher for the configured channels, or None when no config file is set.

    ``masker``: the app's PII masker (its key and extra patterns); the default policy when None."""
    if path is None:
        return None
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    channels, policy = build_channels(data)
    return Dispatcher(channels, policy, failed_path, masker=masker)
