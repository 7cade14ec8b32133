"""Sentry next to OpenTelemetry: same trace id, our fingerprint and tags, masked, sampled on repeats.

``sentry_sdk.init`` gets ``OTLPIntegration(setup_otlp_traces_exporter=False, setup_propagator=False)``
so every event's ``contexts.trace`` is the active OTel span (a Sentry issue opens the Jaeger trace in
one click) while our exporters and W3C propagation stay untouched; Sentry's own tracing stays off.
``before_send`` also writes the OTel ids itself, so the link holds when that integration is missing,
and writes ``sentry.event_id`` on the span for the way back.

Privacy: ``send_default_pii=False``, no request bodies, no local variables, request headers cut to an
allow-list, and then every string of the event, transaction and breadcrumb goes through the PII
masker (``otel_secretary.pii.sentry_scrubber`` when present). If masking fails the event is dropped:
an unsent event is better than a leaked e-mail address.

Repeats: within ``OTEL_SECRETARY_SENTRY_REPEAT_WINDOW`` seconds of a fingerprint's first event, only
occurrences 1, 2, 4, 8, … are sent (each carrying ``app.error.occurrences``), so an outage yields a
handful of events with counts rather than thousands.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any, Final

from opentelemetry import trace

from otel_secretary._internal.self_monitoring import report_internal_error

from ._fingerprint import normalise_message
from ._hooks import baggage_context, flask_request_context
from ._masking import REDACTION_FAILED, identity, text_masker
from ._record import ErrorRecorder

Event = dict[str, Any]
Hint = dict[str, Any]
Scrubber = Callable[[Event, Hint], Event | None]

#: Request headers that may reach Sentry; everything else (cookies, auth, forwarding ips) is dropped.
HEADER_ALLOW_LIST: Final = frozenset(
    {"accept", "content-type", "content-length", "user-agent", "host", "traceparent", "x-request-id"}
)
_LEVEL_BY_SEVERITY: Final = {"critical": "fatal", "high": "error", "medium": "error", "low": "warning"}
_MAX_DEPTH: Final = 32
_SEEN_ATTR: Final = "__otel_secretary_sentry_seen__"


class RepeatSampler:
    """Send the 1st, 2nd, 4th, 8th … occurrence of a key within a window; forget keys LRU-first."""

    def __init__(
        self, window_seconds: float, *, clock: Callable[[], float] = time.monotonic, max_keys: int = 4096
    ):
        self.window = window_seconds
        self._clock = clock
        self._max_keys = max_keys
        self._seen: OrderedDict[str, tuple[float, int]] = OrderedDict()
        self._lock = threading.Lock()

    def admit(self, key: str) -> tuple[bool, int]:
        """(send it?, occurrence number within the current window)."""
        if self.window <= 0:
            return True, 1
        now = self._clock()
        with self._lock:
            start, count = self._seen.pop(key, (now, 0))
            if now - start > self.window:
                start, count = now, 0
            count += 1
            self._seen[key] = (start, count)
            while len(self._seen) > self._max_keys:
                self._seen.popitem(last=False)
        return count & (count - 1) == 0, count


def mask_tree(value: Any, mask: Callable[[str], str], depth: int = 0) -> Any:
    """Every string in a JSON-like tree masked; containers rebuilt, keys kept."""
    if isinstance(value, str):
        return mask(value)
    if depth > _MAX_DEPTH:
        return REDACTION_FAILED
    if isinstance(value, dict):
        return {k: mask_tree(v, mask, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask_tree(v, mask, depth + 1) for v in value]
    return value


def _scrubber(masker: object | None) -> Scrubber:
    """The PII package's Sentry scrubber if it exists, else our tree walk with its text masker."""
    if masker is None:
        return lambda event, hint: event
    try:
        pii = importlib.import_module("otel_secretary.pii")
        factory = getattr(pii, "sentry_scrubber", None)
        if callable(factory):
            scrubber: Scrubber = factory(masker)
            return scrubber
    except Exception as failure:
        report_internal_error("errors.sentry_scrubber", failure)
    mask = text_masker(masker)
    return lambda event, hint: mask_tree(event, mask)


def _filter_request(event: Event) -> None:
    request = event.get("request")
    if not isinstance(request, dict):
        return
    for key in ("data", "cookies", "env"):
        request.pop(key, None)
    headers = request.get("headers")
    if isinstance(headers, dict):
        request["headers"] = {k: v for k, v in headers.items() if str(k).lower() in HEADER_ALLOW_LIST}


def _link_trace(event: Event) -> None:
    span = trace.get_current_span()
    ctx = span.get_span_context()
    if not ctx.is_valid:
        return
    contexts = event.setdefault("contexts", {})
    trace_context = contexts.setdefault("trace", {})
    trace_context["trace_id"] = trace.format_trace_id(ctx.trace_id)
    trace_context["span_id"] = trace.format_span_id(ctx.span_id)
    event_id = event.get("event_id")
    if isinstance(event_id, str) and span.is_recording():
        span.set_attribute("sentry.event_id", event_id)


def _message_key(event: Event) -> str:
    logentry = event.get("logentry")
    text = logentry.get("message") if isinstance(logentry, dict) else event.get("message")
    return "msg:" + hashlib.sha256(normalise_message(str(text or "")).encode()).hexdigest()[:16]


class SentryEventProcessor:
    """``before_send`` / ``before_send_transaction`` / ``before_breadcrumb`` for our Sentry client."""

    def __init__(self, recorder: ErrorRecorder, masker: object | None, sampler: RepeatSampler) -> None:
        self.recorder = recorder
        self.sampler = sampler
        self._scrub = _scrubber(masker)
        self._mask_text = text_masker(masker) if masker is not None else identity

    def before_send(self, event: Event, hint: Hint) -> Event | None:
        try:
            exc_info = hint.get("exc_info") if isinstance(hint, dict) else None
            exc = exc_info[1] if isinstance(exc_info, tuple) and len(exc_info) > 1 else None
            if isinstance(exc, BaseException):
                # One occurrence, several captures (Flask's signal, then its error log): Sentry's
                # Dedupe forgets an exception we dropped, so we remember it ourselves.
                if getattr(exc, _SEEN_ATTR, False):
                    return None
                with contextlib.suppress(Exception):
                    setattr(exc, _SEEN_ATTR, True)
            info = self.recorder.classify(exc) if isinstance(exc, BaseException) else None
            key = info.fingerprint if info is not None else _message_key(event)
            send, occurrence = self.sampler.admit(key)
            if not send:
                return None
            _filter_request(event)
            scrubbed = self._scrub(event, hint)
            if scrubbed is None:
                return None
            self._enrich(scrubbed, info, occurrence)
            return scrubbed
        except Exception as failure:
            report_internal_error("errors.sentry_before_send", failure)
            return None  # fail closed: an unscrubbed event must not leave the process

    def _enrich(self, event: Event, info: Any, occurrence: int) -> None:
        tags = event.setdefault("tags", {})
        if info is not None:
            event["fingerprint"] = [info.fingerprint]
            event["level"] = _LEVEL_BY_SEVERITY.get(info.severity, "error")
            tags.update({"app.error.category": info.category, "app.error.severity": info.severity})
            tags["error.type"] = info.error_type
            if info.system:
                tags["app.error.system"] = info.system
        request = flask_request_context()
        if request:
            request["http.response.status_code"] = (
                info.status_code if info is not None and info.status_code and info.status_code < 500 else 500
            )
            event.setdefault("contexts", {})["request_context"] = dict(request)
            if "http.route" in request:
                tags["http.route"] = request["http.route"]
        found = baggage_context()
        if "app.tenant.id" in found:
            tags["app.tenant.id"] = self._mask_text(str(found["app.tenant.id"]))
        if "enduser.id" in found:  # a keyed pseudonym, not the user's real id
            event["user"] = {"id": self._mask_text(str(found["enduser.id"]))}
        else:
            event.pop("user", None)
        event.setdefault("extra", {})["app.error.occurrences"] = occurrence
        _link_trace(event)

    def before_send_transaction(self, event: Event, hint: Hint) -> Event | None:
        try:
            _filter_request(event)
            return self._scrub(event, hint)
        except Exception as failure:
            report_internal_error("errors.sentry_before_send_transaction", failure)
            return None

    def before_breadcrumb(self, crumb: dict[str, Any], hint: Hint | None) -> dict[str, Any] | None:
        try:
            masked = self._scrub(crumb, hint or {})
            return masked if isinstance(masked, dict) else None
        except Exception as failure:
            report_internal_error("errors.sentry_before_breadcrumb", failure)
            return None


_state_lock = threading.Lock()
_processor: SentryEventProcessor | None = None


def init_sentry(
    dsn: str,
    *,
    environment: str,
    recorder: ErrorRecorder,
    masker: object | None,
    repeat_window: float,
    extra_options: Mapping[str, Any] | None = None,
) -> SentryEventProcessor | None:
    """Initialise sentry-sdk once for this process; later calls only swap in the new recorder/masker."""
    global _processor
    import sentry_sdk

    with _state_lock:
        if _processor is not None:
            _processor.recorder = recorder
            return _processor
        processor = SentryEventProcessor(recorder, masker, RepeatSampler(repeat_window))
        if sentry_sdk.get_client().is_active():
            # The app initialised Sentry itself: keep its options, add our processing as a scope hook.
            sentry_sdk.get_global_scope().add_event_processor(processor.before_send)  # type: ignore[arg-type]
            _processor = processor
            return processor
        options: dict[str, Any] = {
            "dsn": dsn,
            "environment": environment,
            "send_default_pii": False,
            "traces_sample_rate": None,  # Sentry tracing off: OTel owns traces
            "include_local_variables": False,  # locals routinely hold e-mails and tokens
            "max_request_body_size": "never",
            "before_send": processor.before_send,
            "before_send_transaction": processor.before_send_transaction,
            "before_breadcrumb": processor.before_breadcrumb,
            "integrations": _integrations(),
        }
        options.update(extra_options or {})
        sentry_sdk.init(**options)
        _processor = processor
        return processor


def _integrations() -> list[Any]:
    try:
        from sentry_sdk.integrations.otlp import OTLPIntegration

        return [OTLPIntegration(setup_otlp_traces_exporter=False, setup_propagator=False)]
    except Exception:  # DidNotEnable without the OTLP exporter; before_send links the trace anyway
        return []


def reset_for_tests() -> None:
    """Forget the initialised client so a test can initialise a fresh one."""
    global _processor
    with _state_lock:
        _processor = None
