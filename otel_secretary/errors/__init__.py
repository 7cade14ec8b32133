"""Error tracking: categories, severity, stable fingerprints, span/metric recording and Sentry.

The pipeline calls :func:`install` once per process; instrumentation calls :func:`record_exception`
from its ``except`` branches while the span is open. Nothing here may raise into the host app.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from opentelemetry import metrics

from otel_secretary._internal.self_monitoring import report_internal_error
from otel_secretary.settings import Settings

from . import _hooks, _sentry_clients
from ._classify import BASE_SEVERITY, CATEGORIES, SEVERITIES, http_status, type_name
from ._fingerprint import fingerprint, normalise_message
from ._record import (
    ATTR_CATEGORY,
    ATTR_FINGERPRINT,
    ATTR_SEVERITY,
    ATTR_SYSTEM,
    COUNTER_NAME,
    ErrorInfo,
    ErrorRecorder,
    classify,
    default_recorder,
    record_exception,
    set_default_recorder,
)
from ._sentry_clients import SentryStatus

if TYPE_CHECKING:
    from otel_secretary.pii import Masker

__all__ = [
    "ATTR_CATEGORY",
    "ATTR_FINGERPRINT",
    "ATTR_SEVERITY",
    "ATTR_SYSTEM",
    "BASE_SEVERITY",
    "CATEGORIES",
    "COUNTER_NAME",
    "SEVERITIES",
    "ErrorInfo",
    "ErrorRecorder",
    "SentryStatus",
    "classify",
    "default_recorder",
    "fingerprint",
    "http_status",
    "install",
    "normalise_message",
    "record_exception",
    "sentry_status",
    "type_name",
    "uninstall",
]

_install_lock = threading.Lock()
_installed_with: tuple[int, int] | None = None


def install(
    settings: Settings, masker: Masker | None = None, *, meter_provider: metrics.MeterProvider | None = None
) -> None:
    """Set up recording, the Flask/Celery hooks and (with a DSN) Sentry. Idempotent, never raises."""
    global _installed_with
    try:
        with _install_lock:
            key = (id(settings), id(masker))
            if _installed_with == key:
                return
            recorder = ErrorRecorder(
                meter_provider=meter_provider, masker=masker, overrides=settings.severity_overrides
            )
            set_default_recorder(recorder)
            _hooks.connect()
            # Always, DSN or not: an app that initialises Sentry itself gets our processing too.
            _sentry_clients.install(
                recorder=recorder,
                masker=masker,
                repeat_window=settings.sentry_repeat_window,
                dsn=settings.sentry_dsn,
                environment=settings.environment,
            )
            _installed_with = key
    except Exception as failure:
        report_internal_error("errors.install", failure)


def sentry_status(settings: Settings | None = None) -> SentryStatus:
    """Whose Sentry client is active (ours, the app's, both) and whether our processors run on it.

    ``settings`` lets ``config check`` (where no app runs) say whether a DSN of ours is configured."""
    return _sentry_clients.status(bool(settings.sentry_dsn) if settings is not None else None)


def uninstall() -> None:
    """Disconnect the hooks (Sentry stays initialised: sentry-sdk has no clean de-initialisation)."""
    global _installed_with
    with _install_lock:
        _hooks.disconnect()
        set_default_recorder(ErrorRecorder())
        _installed_with = None
