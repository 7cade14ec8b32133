"""One typed table of otel-secretary's own settings (``OTEL_SECRETARY_*``).

Every setting is declared once below: environment variable, parser, default and a docstring-like
``doc``. The README table is tested against this declaration so docs cannot drift. Precedence is
explicit: keyword argument to :func:`load_settings` > environment > default.

This module must never read ``os.environ`` outside :func:`load_settings`, so tests pass a dict.
Standard ``OTEL_*`` variables (service name, exporters, sampler …) stay with the upstream SDK;
we only read the few we must decide on (``OTEL_EXPORTER_OTLP_ENDPOINT``).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, Literal, TypeVar, get_args

from otel_secretary.config_error import ConfigError

T = TypeVar("T")


class SettingsError(ConfigError):
    """An environment value that cannot be used; the message names variable, value and what is allowed."""

    def __init__(self, variable: str, value: str, allowed: str) -> None:
        self.variable = variable
        self.value = value
        self.allowed = allowed
        super().__init__(f"{variable}={value!r} is not valid: expected {allowed}")


def _bool(raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ValueError("true or false")


def _port(raw: str) -> int:
    value = int(raw) if raw.strip().isdigit() else -1
    if not 0 <= value <= 65535:
        raise ValueError("a port number from 0 to 65535 (0 disables the endpoint)")
    return value


def _positive_int(raw: str) -> int:
    value = int(raw) if raw.strip().isdigit() else 0
    if value <= 0:
        raise ValueError("a whole number greater than 0")
    return value


def _non_negative_float(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if value < 0:
        raise ValueError("a number of seconds, 0 or more")
    return value


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _duration(raw: str) -> float:
    """Seconds, or a number with s, m, h or d (``90s``, ``12h``, ``7d``); empty or 0 means no limit."""
    text = raw.strip().lower()
    if not text:
        return 0.0
    unit = _UNITS.get(text[-1], 0)
    try:
        value = float(text[:-1] if unit else text) * (unit or 1)
    except ValueError:
        value = -1.0
    if not value >= 0 or value == float("inf"):
        raise ValueError("a duration such as 3600, 90s, 30m, 12h or 7d (empty or 0: no age limit)")
    return value


#: How the masker replaces a value: a typed placeholder, or a keyed pseudonym (same input, same output).
PiiMode = Literal["placeholder", "pseudonym"]
PII_MODES: tuple[PiiMode, ...] = get_args(PiiMode)


def _choice(*allowed: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        value = raw.strip().lower()
        if value not in allowed:
            raise ValueError("one of " + ", ".join(allowed))
        return value

    return parse


def _text(raw: str) -> str:
    return raw.strip()


def _optional_path(raw: str) -> Path | None:
    return Path(raw).expanduser() if raw.strip() else None


def _severity_map(raw: str) -> dict[str, str]:
    """``category=severity`` pairs, comma separated, e.g. ``rate_limit=high,validation=low``."""
    result: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in raw.split(","))):
        key, sep, value = part.partition("=")
        if not sep or value.strip() not in {"critical", "high", "medium", "low"} or not key.strip():
            raise ValueError(
                "comma-separated category=severity pairs, severity one of critical, high, medium, low"
            )
        result[key.strip()] = value.strip()
    return result


@dataclass(frozen=True)
class Setting(Generic[T]):
    """One declared setting: where it comes from, how it is parsed, and why it exists."""

    attribute: str
    env: str
    parse: Callable[[str], T]
    default: str
    doc: str


SETTINGS: tuple[Setting[Any], ...] = (
    Setting(
        "enabled",
        "OTEL_SECRETARY_ENABLED",
        _bool,
        "true",
        "Master switch. false leaves the app running with the no-op OpenTelemetry API.",
    ),
    Setting(
        "environment",
        "OTEL_SECRETARY_ENVIRONMENT",
        _text,
        "development",
        "Becomes `deployment.environment.name` unless OTEL_RESOURCE_ATTRIBUTES sets it.",
    ),
    Setting(
        "service_version",
        "OTEL_SECRETARY_SERVICE_VERSION",
        _text,
        "",
        "Becomes `service.version` (the release or git sha, so regressions show per deploy) "
        "unless OTEL_RESOURCE_ATTRIBUTES sets it.",
    ),
    Setting(
        "data_dir",
        "OTEL_SECRETARY_DATA_DIR",
        lambda raw: Path(raw).expanduser(),
        ".otel-secretary",
        "Folder of the embedded default: JSON-lines traces/logs and the rules engine's state.",
    ),
    Setting(
        "file_max_bytes",
        "OTEL_SECRETARY_FILE_MAX_BYTES",
        _positive_int,
        str(20 * 1024 * 1024),
        "Size at which a JSON-lines file is rotated.",
    ),
    Setting(
        "file_backups",
        "OTEL_SECRETARY_FILE_BACKUPS",
        _positive_int,
        "3",
        "Rotated JSON-lines files kept; older ones are deleted so disk use stays bounded.",
    ),
    Setting(
        "file_max_age",
        "OTEL_SECRETARY_FILE_MAX_AGE",
        _duration,
        "",
        "Oldest JSON-lines telemetry kept (e.g. `24h`, `7d`); older files are deleted. Empty: size only.",
    ),
    Setting(
        "prometheus_host",
        "OTEL_SECRETARY_PROMETHEUS_HOST",
        _text,
        "127.0.0.1",
        "Address of the in-process `/metrics` endpoint (embedded default).",
    ),
    Setting(
        "prometheus_port",
        "OTEL_SECRETARY_PROMETHEUS_PORT",
        _port,
        "9464",
        "Port of the in-process `/metrics` endpoint; 0 disables it. Prefork workers add their index.",
    ),
    Setting(
        "max_queue_size",
        "OTEL_SECRETARY_MAX_QUEUE_SIZE",
        _positive_int,
        "2048",
        "Spans/log records buffered per exporter; beyond it they are dropped and counted, never grown.",
    ),
    Setting(
        "system_metrics",
        "OTEL_SECRETARY_SYSTEM_METRICS",
        _bool,
        "true",
        "Collect CPU, memory, disk and load metrics (the seed's SystemMetrics).",
    ),
    Setting(
        "gc_freeze",
        "OTEL_SECRETARY_GC_FREEZE",
        _bool,
        "true",
        "gc.freeze() at a process's first request or task: full garbage collections skip the startup heap.",
    ),
    Setting(
        "pii_mode",
        "OTEL_SECRETARY_PII_MODE",
        _choice(*PII_MODES),
        "placeholder",
        "placeholder writes `<email>`; pseudonym writes `<email:3f2a9c1d>` (keyed HMAC) for correlation.",
    ),
    Setting(
        "pii_key",
        "OTEL_SECRETARY_PII_KEY",
        _text,
        "",
        "Secret key of the pseudonym HMAC; required when OTEL_SECRETARY_PII_MODE=pseudonym.",
    ),
    Setting(
        "pii_mask_ip",
        "OTEL_SECRETARY_PII_MASK_IP",
        _bool,
        "true",
        "Mask IPv4/IPv6 addresses (personal data under GDPR).",
    ),
    Setting(
        "pii_card_keep_last4",
        "OTEL_SECRETARY_PII_CARD_KEEP_LAST4",
        _bool,
        "false",
        "Keep the last four digits of a card number (`<card:4242>`) for support lookups.",
    ),
    Setting(
        "pii_extra_patterns",
        "OTEL_SECRETARY_PII_EXTRA_PATTERNS",
        _optional_path,
        "",
        "YAML file of extra detectors; each pattern is checked for catastrophic backtracking at load.",
    ),
    Setting(
        "capture_content",
        "OTEL_SECRETARY_CAPTURE_CONTENT",
        _bool,
        "false",
        "Record GenAI prompts and completions (always masked). Off: only sizes and token counts.",
    ),
    Setting(
        "prices_file",
        "OTEL_SECRETARY_PRICES_FILE",
        _optional_path,
        "",
        "YAML/JSON price overrides per model (USD per million tokens), consulted before genai-prices.",
    ),
    Setting(
        "sentry_dsn",
        "OTEL_SECRETARY_SENTRY_DSN",
        _text,
        "",
        "Sentry DSN; empty leaves Sentry off. SENTRY_DSN is honoured when this is unset.",
    ),
    Setting(
        "sentry_repeat_window",
        "OTEL_SECRETARY_SENTRY_REPEAT_WINDOW",
        _non_negative_float,
        "60",
        "Seconds during which repeats of one error fingerprint are sampled instead of all sent.",
    ),
    Setting(
        "severity_overrides",
        "OTEL_SECRETARY_SEVERITY_OVERRIDES",
        _severity_map,
        "",
        "Severity overrides by category, `category.system` or exception type; the most specific wins, "
        "e.g. `rate_limit=high,external_api.openai=low,stripe.CardError=medium`.",
    ),
    Setting(
        "rules_enabled",
        "OTEL_SECRETARY_RULES_ENABLED",
        _bool,
        "true",
        "Evaluate alert rules in-process (the embedded default).",
    ),
    Setting(
        "rules_dir",
        "OTEL_SECRETARY_RULES_DIR",
        _optional_path,
        "",
        "Folder of rule spec YAML files; empty uses the rules shipped with the package.",
    ),
    Setting(
        "notify_config",
        "OTEL_SECRETARY_NOTIFY_CONFIG",
        _optional_path,
        "",
        "YAML file of notification channels (email, Slack, webhook, PagerDuty) for the in-process engine.",
    ),
)


@dataclass(frozen=True)
class Settings:
    """The parsed settings; built once at start-up by :func:`load_settings`."""

    enabled: bool = True
    environment: str = "development"
    service_version: str = ""
    data_dir: Path = Path(".otel-secretary")
    file_max_bytes: int = 20 * 1024 * 1024
    file_backups: int = 3
    file_max_age: float = 0.0
    prometheus_host: str = "127.0.0.1"
    prometheus_port: int = 9464
    max_queue_size: int = 2048
    system_metrics: bool = True
    gc_freeze: bool = True
    pii_mode: PiiMode = "placeholder"
    pii_key: str = ""
    pii_mask_ip: bool = True
    pii_card_keep_last4: bool = False
    pii_extra_patterns: Path | None = None
    capture_content: bool = False
    prices_file: Path | None = None
    sentry_dsn: str = ""
    sentry_repeat_window: float = 60.0
    severity_overrides: dict[str, str] = field(default_factory=dict)
    rules_enabled: bool = True
    rules_dir: Path | None = None
    notify_config: Path | None = None
    # Decided from the standard OTEL_* variables, not one of ours.
    otlp_endpoint: str = ""

    @property
    def embedded(self) -> bool:
        """True when no collector is configured: file traces, in-process /metrics and rules."""
        return not self.otlp_endpoint

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)


def load_settings(env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Parse every declared setting; the first invalid one raises :class:`SettingsError`."""
    source = os.environ if env is None else env
    values: dict[str, Any] = {}
    for setting in SETTINGS:
        if setting.attribute in overrides:
            values[setting.attribute] = overrides.pop(setting.attribute)
            continue
        raw = source.get(setting.env)
        if raw is None or (raw.strip() == "" and setting.default == ""):
            raw = setting.default
        try:
            values[setting.attribute] = setting.parse(raw)
        except ValueError as exc:
            raise SettingsError(setting.env, raw, str(exc) or "a valid value") from None
    if overrides:
        raise TypeError(f"unknown settings: {', '.join(sorted(overrides))}")
    if not values["sentry_dsn"]:
        values["sentry_dsn"] = source.get("SENTRY_DSN", "").strip()
    if values["pii_mode"] == "pseudonym" and not values["pii_key"]:
        raise SettingsError(
            "OTEL_SECRETARY_PII_KEY", "", "a non-empty secret when OTEL_SECRETARY_PII_MODE=pseudonym"
        )
    values["otlp_endpoint"] = (
        source.get("OTEL_EXPORTER_OTLP_ENDPOINT") or source.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or ""
    ).strip()
    return Settings(**values)
