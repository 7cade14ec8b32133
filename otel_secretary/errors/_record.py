"""Put a classified exception on the span that was open when it happened, and count it.

The span gets ``error.type``, ``app.error.type`` (the same exception class name, which HTTP and
GenAI instrumentations do not overwrite with a status code later), ``app.error.category``,
``app.error.severity``, ``app.error.fingerprint`` (and ``app.error.system`` for outbound calls)
and status ERROR; optionally the ``exception`` event, with message and stack trace masked here
already (the pipeline masks on export too, but an in-memory exporter or a debugger should not see
raw PII either).

The ``app.errors`` counter is labelled by category, severity, error.type and system only: never by
fingerprint, whose cardinality is unbounded. Each exception object is counted once even when it is
recorded on several spans (the OpenAI client span, then the Flask server span it propagates to).

This module must never raise into the host app: failures are reported to self-monitoring.
"""

from __future__ import annotations

import contextlib
import threading
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from opentelemetry import metrics, trace
from opentelemetry.trace import Span, Status, StatusCode
from opentelemetry.util.types import AttributeValue

from otel_secretary import semconv
from otel_secretary._internal.fork_reset import renew_lock, reset_in_forked_child
from otel_secretary._internal.lazy_default import LazyDefault
from otel_secretary._internal.self_monitoring import report_internal_error

from ._classify import Classification, classify_exception
from ._fingerprint import fingerprint
from ._masking import identity, text_masker

ATTR_CATEGORY: Final = semconv.ERROR_CATEGORY
ATTR_SEVERITY: Final = semconv.ERROR_SEVERITY
ATTR_FINGERPRINT: Final = semconv.ERROR_FINGERPRINT
ATTR_SYSTEM: Final = semconv.ERROR_SYSTEM
ATTR_ERROR_TYPE: Final = "error.type"
ATTR_TYPE: Final = semconv.ERROR_APP_TYPE
COUNTER_NAME: Final = semconv.APP_ERRORS.name

_INFO_ATTR: Final = "__otel_secretary_error_info__"
_COUNTED_ATTR: Final = "__otel_secretary_error_counted__"
_MAX_STATUS_DESCRIPTION: Final = 256


@dataclass(frozen=True)
class ErrorInfo:
    """Everything decided about one exception: what kind, how bad, and which bug it is."""

    category: str
    severity: str
    fingerprint: str
    error_type: str
    system: str | None = None
    status_code: int | None = None

    def span_attributes(self) -> dict[str, AttributeValue]:
        attributes: dict[str, AttributeValue] = {
            ATTR_ERROR_TYPE: self.error_type,
            ATTR_TYPE: self.error_type,
            ATTR_CATEGORY: self.category,
            ATTR_SEVERITY: self.severity,
            ATTR_FINGERPRINT: self.fingerprint,
        }
        if self.system:
            attributes[ATTR_SYSTEM] = self.system
        return attributes

    def metric_attributes(self) -> dict[str, AttributeValue]:
        attributes: dict[str, AttributeValue] = {
            ATTR_CATEGORY: self.category,
            ATTR_SEVERITY: self.severity,
            ATTR_ERROR_TYPE: self.error_type,
        }
        if self.system:
            attributes[ATTR_SYSTEM] = self.system
        return attributes


def classify(
    exc: BaseException, *, system: str | None = None, overrides: Mapping[str, str] | None = None
) -> ErrorInfo:
    """Category, severity and fingerprint of ``exc`` (see ``_classify`` for the documented rules).

    ``overrides=None`` applies the installed settings' ``severity_overrides``; pass ``{}`` for none.
    """
    if overrides is None:
        overrides = default_recorder().overrides
    found: Classification = classify_exception(exc, system=system, overrides=overrides)
    return ErrorInfo(
        category=found.category,
        severity=found.severity,
        fingerprint=fingerprint(exc),
        error_type=found.error_type,
        system=found.system,
        status_code=found.status_code,
    )


class ErrorRecorder:
    """Classifies, annotates spans and counts; one per process via :func:`install`, or local in tests."""

    def __init__(
        self,
        *,
        meter_provider: metrics.MeterProvider | None = None,
        masker: object | None = None,
        overrides: Mapping[str, str] | None = None,
    ) -> None:
        meter = metrics.get_meter("otel_secretary.errors", meter_provider=meter_provider)
        self._counter = semconv.counter(meter, semconv.APP_ERRORS)
        self.mask: Callable[[str], str] = text_masker(masker) if masker is not None else identity
        self.overrides: dict[str, str] = dict(overrides or {})
        self._lock = threading.Lock()
        reset_in_forked_child(self, renew_lock)

    def classify(self, exc: BaseException, *, system: str | None = None) -> ErrorInfo:
        """Like :func:`classify` with this recorder's overrides, cached on the exception object."""
        cached = getattr(exc, _INFO_ATTR, None)
        if isinstance(cached, ErrorInfo) and (system is None or cached.system == system):
            return cached
        info = classify(exc, system=system, overrides=self.overrides)
        # Exceptions with __slots__ or read-only attributes simply go uncached.
        with contextlib.suppress(Exception):
            setattr(exc, _INFO_ATTR, info)
        return info

    def record(
        self,
        span: Span | None,
        exc: BaseException,
        *,
        system: str | None = None,
        add_event: bool = True,
        context: Mapping[str, AttributeValue] | None = None,
    ) -> ErrorInfo:
        """Annotate ``span`` (while it is still open) and count ``exc`` once; never raises."""
        try:
            info = self.classify(exc, system=system)
        except Exception as failure:
            report_internal_error("errors.classify", failure)
            info = ErrorInfo("internal", "high", "", type(exc).__qualname__)
        try:
            if span is not None and span.is_recording():
                self._annotate(span, exc, info, add_event, context)
        except Exception as failure:
            report_internal_error("errors.record_span", failure)
        try:
            self._count_once(exc, info)
        except Exception as failure:
            report_internal_error("errors.count", failure)
        return info

    def _annotate(
        self,
        span: Span,
        exc: BaseException,
        info: ErrorInfo,
        add_event: bool,
        context: Mapping[str, AttributeValue] | None,
    ) -> None:
        message = self.mask(_safe_str(exc))
        if add_event:
            stack = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
            span.add_event(
                "exception",
                {
                    "exception.type": info.error_type,
                    "exception.message": message,
                    "exception.stacktrace": self.mask(stack),
                },
            )
        attributes = info.span_attributes()
        if context:
            attributes.update({k: v for k, v in context.items() if v is not None and v != ""})
        span.set_attributes(attributes)
        description = f"{info.error_type}: {message}" if message else info.error_type
        span.set_status(Status(StatusCode.ERROR, description[:_MAX_STATUS_DESCRIPTION]))

    def _count_once(self, exc: BaseException, info: ErrorInfo) -> None:
        with self._lock:
            if getattr(exc, _COUNTED_ATTR, False):
                return
            with contextlib.suppress(Exception):
                setattr(exc, _COUNTED_ATTR, True)
        self._counter.add(1, info.metric_attributes())


def _safe_str(exc: BaseException) -> str:
    try:
        return str(exc)
    except Exception:
        return ""


_default: LazyDefault[ErrorRecorder] = LazyDefault(lambda: ErrorRecorder())


def default_recorder() -> ErrorRecorder:
    """The process-wide recorder: the one :func:`install` configured, else one on the global meter."""
    return _default.get()


def set_default_recorder(recorder: ErrorRecorder) -> None:
    _default.set(recorder)


def record_exception(
    span: Span | None,
    exc: BaseException,
    *,
    system: str | None = None,
    add_event: bool = True,
    context: Mapping[str, Any] | None = None,
) -> ErrorInfo:
    """Record ``exc`` on ``span`` (default: the current span) with category, severity and fingerprint.

    Call it from an ``except`` branch while the span is still open. It adds the ``exception`` event
    itself, so open the span with ``record_exception=False`` (or pass ``add_event=False``) to avoid a
    second event. Never raises.
    """
    target = span if span is not None else trace.get_current_span()
    return default_recorder().record(target, exc, system=system, add_event=add_event, context=context)
