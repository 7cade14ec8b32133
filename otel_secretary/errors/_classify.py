"""Turn any exception into a category, a severity and (for outbound calls) the remote system.

Recognition is by *names*: each class in the exception's MRO is looked up as
``<top-level package>.<qualname>`` (``openai.RateLimitError``, ``sqlalchemy.OperationalError``,
``billiard.SoftTimeLimitExceeded``), so this module imports none of the libraries it knows and keeps
working when they move classes between private modules. The most specific class wins; classes whose
meaning depends on the HTTP status (``openai.APIStatusError``, ``werkzeug.HTTPException``,
``googleapiclient.HttpError`` …) defer to the status. When the outer exception is unknown, the
``__cause__``/``__context__`` chain is consulted (``RuntimeError("sync failed") from redis_error`` is
a database error).

Categories: ``database``, ``external_api`` (system ``openai``, ``stripe``, ``calendar``, ``http``),
``validation``, ``auth``, ``permission``, ``not_found``, ``timeout``, ``rate_limit``,
``configuration``, ``internal``.

Severity rules, applied in this order:

1. Base severity per category: configuration critical; database, internal high; external_api,
   timeout, rate_limit, auth, permission medium; validation, not_found low.
2. Database errors that mean "cannot reach the store" (connection errors, invalidated connections,
   broker ``OperationalError``) are critical: every request that needs the store fails.
3. auth/permission on an *outbound* call (our API key or OAuth grant was rejected by OpenAI, Stripe
   or Google) are critical: every call to that provider fails until someone rotates a secret.
   The same categories on *inbound* requests (a user's bad token) are low: expected traffic.
4. validation on an outbound call (the provider rejected the request *we* built) is medium: it is
   our bug. A Stripe card decline is the exception: ``validation`` (the customer's card, not our
   request, failed) and low.
5. User overrides (``OTEL_SECRETARY_SEVERITY_OVERRIDES``) win, most specific key first: the error
   type's full name (``stripe._error.CardError``), its short name (``stripe.CardError``),
   ``<category>.<system>`` (``external_api.openai``), then ``<category>``.

This module must never raise on strange exceptions: attribute reads are guarded, so a broken
``__getattr__`` on a third-party exception degrades to ``internal``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

CATEGORIES: Final = (
    "database",
    "external_api",
    "validation",
    "auth",
    "permission",
    "not_found",
    "timeout",
    "rate_limit",
    "configuration",
    "internal",
)
SEVERITIES: Final = ("critical", "high", "medium", "low")

BASE_SEVERITY: Final[Mapping[str, str]] = {
    "configuration": "critical",
    "database": "high",
    "internal": "high",
    "external_api": "medium",
    "timeout": "medium",
    "rate_limit": "medium",
    "auth": "medium",
    "permission": "medium",
    "validation": "low",
    "not_found": "low",
}

# Top-level package of the raising library -> the remote system it talks to.
SYSTEM_BY_PACKAGE: Final[Mapping[str, str]] = {
    "openai": "openai",
    "stripe": "stripe",
    "googleapiclient": "calendar",  # the only Google API the secretary calls
    "requests": "http",
    "httpx": "http",
    "urllib3": "http",
    "aiohttp": "http",
    "httplib2": "http",
}


@dataclass(frozen=True)
class _Rule:
    """What a known class means. ``category=None``: decide from the HTTP status."""

    category: str | None
    severity: str | None = None


_STATUS: Final = _Rule(None)

# Keys are "<top-level package>.<qualname>"; the first class in the MRO with a rule wins.
RULES: Final[Mapping[str, _Rule]] = {
    # --- builtins
    "builtins.TimeoutError": _Rule("timeout"),
    "builtins.PermissionError": _Rule("permission"),
    "builtins.ConnectionError": _Rule("external_api"),
    "concurrent.TimeoutError": _Rule("timeout"),
    "asyncio.TimeoutError": _Rule("timeout"),
    "socket.timeout": _Rule("timeout"),
    # --- databases
    "sqlalchemy.NoResultFound": _Rule("not_found"),
    "sqlalchemy.DisconnectionError": _Rule("database", "critical"),
    "sqlalchemy.TimeoutError": _Rule("database", "critical"),  # connection pool exhausted
    "sqlalchemy.InterfaceError": _Rule("database", "critical"),
    "sqlalchemy.OperationalError": _Rule("database"),
    "sqlalchemy.SQLAlchemyError": _Rule("database"),
    "sqlite3.Error": _Rule("database"),
    "psycopg.OperationalError": _Rule("database", "critical"),
    "psycopg.Error": _Rule("database"),
    "psycopg2.OperationalError": _Rule("database", "critical"),
    "psycopg2.Error": _Rule("database"),
    "pymysql.OperationalError": _Rule("database", "critical"),
    "pymysql.Error": _Rule("database"),
    "django.DatabaseError": _Rule("database"),
    "django.ImproperlyConfigured": _Rule("configuration"),
    "redis.TimeoutError": _Rule("timeout"),
    "redis.AuthenticationError": _Rule("configuration"),  # our Redis password is wrong
    "redis.ConnectionError": _Rule("database", "critical"),
    "redis.RedisError": _Rule("database"),
    "kombu.OperationalError": _Rule("database", "critical"),  # broker unreachable
    # --- HTTP clients
    "requests.Timeout": _Rule("timeout"),
    "requests.HTTPError": _STATUS,
    "requests.RequestException": _Rule("external_api"),
    "httpx.TimeoutException": _Rule("timeout"),
    "httpx.HTTPStatusError": _STATUS,
    "httpx.HTTPError": _Rule("external_api"),
    "urllib3.TimeoutError": _Rule("timeout"),
    "urllib3.HTTPError": _Rule("external_api"),
    "aiohttp.ServerTimeoutError": _Rule("timeout"),
    "aiohttp.ClientResponseError": _STATUS,
    "aiohttp.ClientError": _Rule("external_api"),
    # --- OpenAI
    "openai.APITimeoutError": _Rule("timeout"),
    "openai.APIConnectionError": _Rule("external_api"),
    "openai.APIResponseValidationError": _Rule("external_api"),
    "openai.APIStatusError": _STATUS,
    "openai.LengthFinishReasonError": _Rule("external_api", "low"),
    "openai.ContentFilterFinishReasonError": _Rule("validation"),
    "openai.APIError": _Rule("external_api"),
    "openai.OpenAIError": _Rule("configuration"),  # raised bare for a missing API key / client setup
    # --- Stripe
    "stripe.CardError": _Rule("validation", "low"),
    "stripe.RateLimitError": _Rule("rate_limit"),
    "stripe.AuthenticationError": _Rule("auth"),
    "stripe.PermissionError": _Rule("permission"),
    "stripe.SignatureVerificationError": _Rule("auth", "high"),  # forged or misconfigured webhook
    "stripe.APIConnectionError": _Rule("external_api"),
    "stripe.InvalidRequestError": _STATUS,
    "stripe.IdempotencyError": _Rule("validation"),
    "stripe.StripeError": _STATUS,
    # --- Google API client
    "googleapiclient.HttpError": _STATUS,
    "googleapiclient.UnknownApiNameOrVersion": _Rule("configuration"),
    "googleapiclient.Error": _Rule("external_api"),
    "google.RefreshError": _Rule("auth"),  # google.auth.exceptions: OAuth grant revoked/expired
    "google.DefaultCredentialsError": _Rule("configuration"),
    # --- Flask / werkzeug (inbound requests)
    "werkzeug.HTTPException": _STATUS,
    # --- Celery
    "billiard.SoftTimeLimitExceeded": _Rule("timeout"),
    "billiard.TimeLimitExceeded": _Rule("timeout", "high"),  # the worker process was killed
    "celery.ImproperlyConfigured": _Rule("configuration"),
    "celery.NotRegistered": _Rule("configuration"),
    "celery.QueueNotFound": _Rule("configuration"),
    "celery.TimeoutError": _Rule("timeout"),
    "celery.MaxRetriesExceededError": _Rule("internal"),
    "celery.TaskRevokedError": _Rule("internal", "low"),
    "celery.BackendError": _Rule("database"),
    # --- validation libraries
    "pydantic.ValidationError": _Rule("validation"),
    "pydantic_core.ValidationError": _Rule("validation"),
    "marshmallow.ValidationError": _Rule("validation"),
    "jsonschema.ValidationError": _Rule("validation"),
    # --- our own
    "otel_secretary.SettingsError": _Rule("configuration"),
}

# Google reports quota exhaustion as 403 with one of these reasons, not as 429.
_GOOGLE_RATE_LIMIT_REASONS: Final = frozenset(
    {
        "rateLimitExceeded",
        "userRateLimitExceeded",
        "quotaExceeded",
        "dailyLimitExceeded",
        "RESOURCE_EXHAUSTED",
    }
)


@dataclass(frozen=True)
class Classification:
    """Category, severity and context decided for one exception (no fingerprint: that needs frames)."""

    category: str
    severity: str
    error_type: str
    system: str | None = None
    status_code: int | None = None


def type_name(cls: type) -> str:
    """Fully qualified class name, the value of ``error.type`` and ``exception.type``."""
    module = getattr(cls, "__module__", None) or "builtins"
    qualname = getattr(cls, "__qualname__", None) or cls.__name__
    return qualname if module == "builtins" else f"{module}.{qualname}"


def _short_key(cls: type) -> str:
    module = getattr(cls, "__module__", None) or "builtins"
    return f"{module.partition('.')[0]}.{getattr(cls, '__qualname__', cls.__name__)}"


def _safe_getattr(obj: object, name: str) -> object:
    try:
        return getattr(obj, name, None)
    except Exception:
        return None


def _as_status(value: object) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | str):
        return None
    try:
        number = int(value)
    except ValueError:
        return None
    return number if 100 <= number <= 599 else None


def http_status(exc: BaseException) -> int | None:
    """The HTTP status an exception carries, wherever its library keeps it."""
    for name in ("status_code", "http_status", "status"):
        status = _as_status(_safe_getattr(exc, name))
        if status is not None:
            return status
    response = _safe_getattr(exc, "response")
    if response is not None:
        status = _as_status(_safe_getattr(response, "status_code")) or _as_status(
            _safe_getattr(response, "status")
        )
        if status is not None:
            return status
    resp = _safe_getattr(exc, "resp")  # googleapiclient / httplib2
    if resp is not None:
        status = _as_status(_safe_getattr(resp, "status"))
        if status is not None:
            return status
    # werkzeug keeps it in .code; elsewhere .code is often a string ("card_declined"), so only ints count.
    code = _safe_getattr(exc, "code")
    if isinstance(code, int) and not isinstance(code, bool) and 400 <= code <= 599:
        return code
    return None


def _google_rate_limited(exc: BaseException) -> bool:
    details = _safe_getattr(exc, "error_details")
    content = _safe_getattr(exc, "content")
    text = repr(details)
    if isinstance(content, bytes):
        text += content[:4096].decode("utf-8", "replace")
    return any(reason in text for reason in _GOOGLE_RATE_LIMIT_REASONS)


def _category_from_status(status: int | None, outbound: bool) -> str:
    if status is None:
        return "external_api" if outbound else "internal"
    if status == 429:
        return "rate_limit"
    if status in (408, 504):
        return "timeout"
    if status == 401:
        return "auth"
    if status == 403:
        return "permission"
    if status in (404, 410):
        return "not_found"
    if 400 <= status < 500:
        return "validation"
    return "external_api" if outbound else "internal"


def _match(exc: BaseException) -> tuple[_Rule, type] | None:
    for cls in type(exc).__mro__:
        rule = RULES.get(_short_key(cls))
        if rule is not None:
            return rule, cls
    return None


def _detect_system(exc: BaseException) -> str | None:
    for cls in type(exc).__mro__:
        package = (getattr(cls, "__module__", None) or "").partition(".")[0]
        if package in SYSTEM_BY_PACKAGE:
            return SYSTEM_BY_PACKAGE[package]
    return None


def _classify_one(exc: BaseException, system: str | None) -> tuple[str, str | None, str | None, int | None]:
    """(category, rule severity or None, system, status) for one exception, ignoring its chain."""
    detected = _detect_system(exc)
    system = system or detected
    status = http_status(exc)
    matched = _match(exc)
    if matched is None:
        if status is not None and system is not None:
            return _category_from_status(status, outbound=True), None, system, status
        return "internal", None, system, status
    rule, _cls = matched
    if rule.category is not None:
        return rule.category, rule.severity, system, status
    category = _category_from_status(status, outbound=system is not None)
    if detected == "calendar" and status in (403, 429) and _google_rate_limited(exc):
        category = "rate_limit"
    return category, rule.severity, system, status


def _chain(exc: BaseException, limit: int = 5) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and len(seen) < limit and all(current is not s for s in seen):
        seen.append(current)
        current = current.__cause__ or (None if current.__suppress_context__ else current.__context__)
    return seen


def _severity(category: str, rule_severity: str | None, system: str | None, exc: BaseException) -> str:
    if rule_severity is not None:
        return rule_severity
    if category in ("auth", "permission"):
        return "critical" if system is not None else "low"
    if category == "validation" and system is not None:
        return "medium"
    if category == "database" and (
        _safe_getattr(exc, "connection_invalidated") is True or "Connection" in type(exc).__name__
    ):
        return "critical"
    return BASE_SEVERITY.get(category, "high")


def _override(
    overrides: Mapping[str, str], cls: type, category: str, system: str | None, severity: str
) -> str:
    for key in (type_name(cls), _short_key(cls), f"{category}.{system}" if system else None, category):
        if key is not None and overrides.get(key) in SEVERITIES:
            return overrides[key]
    return severity


def classify_exception(
    exc: BaseException, *, system: str | None = None, overrides: Mapping[str, str] | None = None
) -> Classification:
    """Category and severity of ``exc``; ``system`` names the remote system when the caller knows it."""
    try:
        category, rule_severity, found_system, status = _classify_one(exc, system)
        decided_by = exc
        if category == "internal" and rule_severity is None:
            for cause in _chain(exc)[1:]:
                c_category, c_severity, c_system, c_status = _classify_one(cause, system)
                if c_category != "internal":
                    category, rule_severity, found_system, decided_by = (
                        c_category,
                        c_severity,
                        c_system,
                        cause,
                    )
                    status = status if status is not None else c_status
                    break
        severity = _severity(category, rule_severity, found_system, decided_by)
        if overrides:
            severity = _override(overrides, type(exc), category, found_system, severity)
        return Classification(category, severity, type_name(type(exc)), found_system, status)
    except Exception:  # a hostile exception object must not break error handling itself
        return Classification("internal", "high", type_name(type(exc)))
