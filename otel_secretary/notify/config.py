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
from otel_secretary.config_error import ConfigError
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


class NotifyConfigError(ConfigError):
    """A notification config that cannot be used; the message names the file, line and entry."""

    def __init__(self, message: str, line: int | None = None) -> None:
        self.line = line
        self.detail = message
        super().__init__(message)


def _expand(value: Any, env: Mapping[str, str], where: str) -> Any:
    """Substitute ``${VAR}``; an unset variable is an error, not an empty secret sent nowhere."""
    if isinstance(value, str):

        def substitute(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in env:
                raise NotifyConfigError(
                    f"{where}: ${{{name}}} is used but {name} is not set in the environment"
                )
            return env[name]

        return _ENV_RE.sub(substitute, value)
    if isinstance(value, list):
        return [_expand(v, env, where) for v in value]
    if isinstance(value, dict):
        return {k: _expand(v, env, where) for k, v in value.items()}
    return value


def build_channels(
    data: Any, env: Mapping[str, str] | None = None, lines: list[int] | None = None
) -> tuple[list[Channel], RetryPolicy]:
    """Channels and retry policy from parsed YAML; ``lines`` (the line of each channel) sharpen errors."""
    source = os.environ if env is None else env
    if not isinstance(data, Mapping):
        raise NotifyConfigError("expected a mapping with 'channels' (and optionally 'retry')")
    unknown = sorted(set(data) - {"retry", "channels"})
    if unknown:
        raise NotifyConfigError(f"unknown top-level key(s) {', '.join(map(repr, unknown))} (retry, channels)")
    retry = _expand(data.get("retry") or {}, source, "retry")
    try:
        timeout = float(retry.get("timeout_seconds", 5))
        policy = RetryPolicy(
            attempts=int(retry.get("attempts", 3)),
            backoff=float(retry.get("backoff_seconds", 1)),
            retry_failed_every=float(retry.get("retry_failed_every_seconds", 300)),
        )
    except (AttributeError, TypeError, ValueError) as exc:
        raise NotifyConfigError(f"retry: numbers expected ({exc})") from None
    items = data.get("channels") or []
    if not isinstance(items, list):
        raise NotifyConfigError("channels: expected a list of channels")
    channels: list[Channel] = []
    for index, raw_item in enumerate(items):
        try:
            channels.append(_channel(index, raw_item, source, timeout))
        except NotifyConfigError as exc:
            exc.line = lines[index] if lines is not None and index < len(lines) else None
            raise
    return channels, policy


def _channel(index: int, raw_item: Any, source: Mapping[str, str], timeout: float) -> Channel:
    where = f"channels[{index}]"
    if not isinstance(raw_item, dict):
        raise NotifyConfigError(f"{where}: expected a mapping with name and type")
    item = _expand(raw_item, source, where)
    try:
        return _build_channel(where, item, timeout)
    except KeyError as exc:
        raise NotifyConfigError(f"{where}: missing {exc.args[0]}") from None
    except NotifyConfigError:
        raise
    except (TypeError, ValueError) as exc:
        raise NotifyConfigError(f"{where}: {exc}") from None


def _build_channel(where: str, item: dict[str, Any], timeout: float) -> Channel:
    name = str(item["name"])
    kind = item["type"]
    severities = tuple(item.get("severities") or ())
    if kind == "slack":
        return SlackChannel(name, item["url"], severities, timeout)
    if kind == "webhook":
        if not item.get("secret"):
            raise NotifyConfigError(f"{where}: a webhook needs a non-empty secret to sign with")
        return WebhookChannel(name, item["url"], item["secret"], severities, timeout)
    if kind == "pagerduty":
        if not item.get("routing_key"):
            raise NotifyConfigError(f"{where}: pagerduty needs routing_key")
        return PagerDutyChannel(
            name, item["routing_key"], item.get("url", PAGERDUTY_URL), severities or ("page",), timeout
        )
    if kind == "email":
        return EmailChannel(
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
    raise NotifyConfigError(f"{where}: unknown type {kind!r} (email, slack, webhook, pagerduty)")


def _channel_lines(text: str) -> list[int]:
    """The 1-based line of each entry under ``channels``, so an error can say file:line."""
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    if isinstance(root, yaml.MappingNode):
        for key, value in root.value:
            if key.value == "channels" and isinstance(value, yaml.SequenceNode):
                return [node.start_mark.line + 1 for node in value.value]
    return []


def load_channels(path: Path, env: Mapping[str, str] | None = None) -> tuple[list[Channel], RetryPolicy]:
    """Read and check a channel config without starting delivery; every error is one line naming ``path``."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise NotifyConfigError(
            f"{path}: cannot read the notification config: {exc.strerror or exc}"
        ) from None
    try:
        data = yaml.safe_load(text) or {}
        lines = _channel_lines(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise NotifyConfigError(f"{where}: invalid YAML: {problem}") from None
    try:
        return build_channels(data, env, lines)
    except NotifyConfigError as exc:
        where = f"{path}:{exc.line}" if exc.line else str(path)
        raise NotifyConfigError(f"{where}: {exc.detail}", exc.line) from None


def load_dispatcher(
    path: Path | None, failed_path: Path | None = None, masker: pii.Masker | None = None
) -> Dispatcher | None:
    """A dispatcher for the configured channels, or None when no config file is set.

    ``masker``: the app's PII masker (its key and extra patterns); the default policy when None."""
    if path is None:
        return None
    channels, policy = load_channels(path)
    return Dispatcher(channels, policy, failed_path, masker=masker)
