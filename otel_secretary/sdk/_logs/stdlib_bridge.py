"""Stdlib ``logging`` → OTel logs, without putting a handler anywhere in the app's logging tree.

Why not a ``LoggingHandler`` on the root logger, as upstream does:

* a handler on root makes the app's ``logging.basicConfig()`` a silent no-op (root "is configured");
* werkzeug and Flask add their console handlers only when no handler is found for their logger
  (``_has_level_handler``), so the "Running on" banner, the access log and Flask's tracebacks vanish;
  Python's last-resort stderr handler stops printing warnings for the same reason;
* Celery's worker (``worker_hijack_root_logger``, on by default), ``dictConfig`` and ``fileConfig``
  replace the root handlers and take an exporter on root with them;
* a second OTel handler (``opentelemetry-instrumentation-logging`` adds its own) exports every record
  twice.

So, like sentry-sdk's logging integration, we wrap :meth:`logging.Logger.callHandlers`, which runs once
per log call that passed the logger's level and filters, whatever handlers exist. Before the app's
handlers run, the record is masked (so console, file, gunicorn and Celery handlers all print the
masked text, whoever configured them and when); after they ran, it is exported. The app's logging
configuration stays entirely the app's, and works as it would without us.
"""

from __future__ import annotations

import contextvars
import logging
import os
import threading
from typing import Any

from opentelemetry._logs import LoggerProvider

_CallHandlers = Any  # logging.Logger.callHandlers' type, kept loose for mypy across Python versions
_original_call_handlers: _CallHandlers = None
_bridge: _Bridge | None = None
_install_lock = threading.Lock()
# A record logged while we export (by the SDK, an exporter, our own code) is never exported: that
# way lies recursion, and with a dead sink a flood.
_exporting: contextvars.ContextVar[bool] = contextvars.ContextVar("otel_secretary_exporting", default=False)


class _DropAlreadyExported(logging.Filter):
    """Put on another OTel logging handler bound to our provider: we export that record already."""

    def filter(self, record: logging.LogRecord) -> bool:
        return False


_DROP = _DropAlreadyExported()


def _no_flush() -> None:
    return None


class _Bridge:
    def __init__(self, provider: LoggerProvider | None, mask: logging.Filter | None) -> None:
        self.provider = provider
        self.mask = mask
        self.exporting = provider is not None
        self.handler = _export_handler(provider) if provider is not None else None
        self._root_seen: list[logging.Handler] = []

    def before(self, record: logging.LogRecord) -> None:
        if self.mask is not None:
            self.mask.filter(record)  # never raises, never drops (MaskingLoggingFilter's contract)
        if self.exporting:
            self._silence_duplicate_exporters()

    def export(self, record: logging.LogRecord) -> None:
        handler = self.handler
        if handler is None or not self.exporting or _exporting.get():
            return
        if record.levelno < handler.level:
            return
        token = _exporting.set(True)
        try:
            handler.emit(record)
        except Exception as exc:
            from otel_secretary._internal.self_monitoring import report_internal_error

            report_internal_error("logs.export", exc)
        finally:
            _exporting.reset(token)

    def _silence_duplicate_exporters(self) -> None:
        """Another OTel handler on root (upstream's logging instrumentation, the SDK's deprecated one,
        the app's own ``LoggingInstrumentor().instrument()``) sending to our provider would export each
        record a second time. Checked whenever root's handler list changes; cheap otherwise."""
        handlers = logging.root.handlers
        if handlers == self._root_seen:
            return
        self._root_seen = list(handlers)
        for handler in handlers:
            if _is_otel_handler_for(handler, self.provider) and _DROP not in handler.filters:
                handler.addFilter(_DROP)
                # Its flush would start a thread at interpreter shutdown (refused on 3.12+, see
                # _ExportHandler); our exit hook flushes the same provider.
                handler.flush = _no_flush  # type: ignore[method-assign]


def _export_handler(provider: LoggerProvider) -> logging.Handler:
    """Upstream's record translation (attributes, exceptions, event names, severities), reused; its
    level and code-attribute switches are upstream's variables."""
    from opentelemetry.instrumentation.logging import _get_log_level
    from opentelemetry.instrumentation.logging.environment_variables import (
        OTEL_PYTHON_LOG_CODE_ATTRIBUTES,
        OTEL_PYTHON_LOG_HANDLER_LEVEL,
    )
    from opentelemetry.instrumentation.logging.handler import LoggingHandler

    class _ExportHandler(LoggingHandler):
        def flush(self) -> None:
            """``logging.shutdown`` flushes every handler ever made, ours too though it sits in no
            logger; upstream's flush starts a thread, which Python 3.12+ refuses at interpreter
            shutdown (a traceback on every exit). The pipeline's own exit hook flushes the provider,
            with a time bound, so there is nothing to do here."""

    code = os.environ.get(OTEL_PYTHON_LOG_CODE_ATTRIBUTES, "false").strip().lower() == "true"
    level = _get_log_level(os.environ.get(OTEL_PYTHON_LOG_HANDLER_LEVEL)) or logging.NOTSET
    return _ExportHandler(level=level, logger_provider=provider, log_code_attributes=code)


def _is_otel_handler_for(handler: logging.Handler, provider: LoggerProvider | None) -> bool:
    if type(handler).__name__ != "LoggingHandler" or not type(handler).__module__.startswith("opentelemetry"):
        return False
    from opentelemetry._logs._internal import ProxyLoggerProvider

    theirs = getattr(handler, "_logger_provider", None)
    # A proxy resolves to the global provider, which is ours once the pipeline is built.
    return theirs is provider or isinstance(theirs, ProxyLoggerProvider)


def _call_handlers(self: logging.Logger, record: logging.LogRecord) -> None:
    bridge = _bridge
    if bridge is None:
        _original_call_handlers(self, record)
        return
    try:
        bridge.before(record)
    except Exception as exc:  # masking's own failure is handled inside the filter; this is the rest
        from otel_secretary._internal.self_monitoring import report_internal_error

        report_internal_error("logs.bridge", exc)
    try:
        _original_call_handlers(self, record)
    finally:
        bridge.export(record)


def install(provider: LoggerProvider | None, mask: logging.Filter | None) -> None:
    """Mask every record before the app's handlers see it; export it to ``provider`` if given."""
    global _bridge, _original_call_handlers
    with _install_lock:
        if _original_call_handlers is None:
            _original_call_handlers = logging.Logger.callHandlers
            logging.Logger.callHandlers = _call_handlers  # type: ignore[method-assign]
        _bridge = _Bridge(provider, mask)


def stop_exporting() -> None:
    """After the pipeline shut down: keep masking, stop handing records to a closed provider."""
    if _bridge is not None:
        _bridge.exporting = False


def uninstall() -> None:
    """Restore ``logging`` exactly (tests)."""
    global _bridge, _original_call_handlers
    with _install_lock:
        _bridge = None
        if _original_call_handlers is not None:
            logging.Logger.callHandlers = _original_call_handlers  # type: ignore[method-assign]
            _original_call_handlers = None
