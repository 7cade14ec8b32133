"""Sentry next to OpenTelemetry: same trace id, our fingerprint and tags, masked, sampled on repeats.

This module is the *processing*: the hooks every Sentry client in the process gets, whoever created
it (see :mod:`._sentry_clients` for how they reach the app's own clients). Our own client is made
with ``OTLPIntegration(setup_otlp_traces_exporter=False, setup_propagator=False)``
so every event's ``contexts.trace`` is the active OTel span while our exporters and W3C propagation
stay untouched; ``before_send`` also writes the OTel ids itself, so the link holds on the app's
clients too, and writes ``sentry.event_id`` on the span for the way back.

Privacy: on our own client ``send_default_pii=False``, no request bodies, no local variables, request
headers cut to an allow-list. On every client (ours or the app's, whatever its ``send_default_pii``)
every string and every key of the event, transaction, breadcrumb and log goes through the PII masker,
the user becomes a keyed pseudonym, and the envelope is masked once more at the transport. If masking
fails the event is dropped: an unsent event is better than a leaked e-mail address.

Repeats: within ``OTEL_SECRETARY_SENTRY_REPEAT_WINDOW`` seconds of a fingerprint's first event, only
occurrences 1, 2, 4, 8, … are sent (each carrying ``app.error.occurrences``), so an outage yields a
handful of events with counts rather than thousands.
"""

from __future__ import annotations

import contextlib
import hashlib
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final

from opentelemetry import trace

from otel_secretary._internal import celery_arguments
from otel_secretary._internal.fork_reset import renew_lock, reset_in_forked_child
from otel_secretary._internal.self_monitoring import report_internal_error

from ._fingerprint import normalise_message
from ._hooks import baggage_context, flask_request_context
from ._masking import identity, text_masker
from ._record import ErrorRecorder

if TYPE_CHECKING:
    from otel_secretary.pii import Masker

Event = dict[str, Any]
Hint = dict[str, Any]
Scrubber = Callable[[Event, Hint], Event | None]

#: Request headers that may reach Sentry from our own client; everything else is dropped.
HEADER_ALLOW_LIST: Final = frozenset(
    {"accept", "content-type", "content-length", "user-agent", "host", "traceparent", "x-request-id"}
)
_LEVEL_BY_SEVERITY: Final = {"critical": "fatal", "high": "error", "medium": "error", "low": "warning"}
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
        reset_in_forked_child(self, renew_lock)

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


def _scrubber(masker: Masker | None) -> Scrubber:
    """The PII package's Sentry scrubber: one walk over events, with the masker's key and value rules.

    Anything other than a :class:`~otel_secretary.pii.Masker` cannot drive that walk, so it fails
    closed (every item dropped, reported once) rather than sending what a plain ``str -> str``
    function would miss: keys, query strings, credential subtrees."""
    if masker is None:
        return lambda event, hint: event
    # Imported here: the detectors cost tens of milliseconds, paid only when there is a masker.
    from otel_secretary import pii

    if isinstance(masker, pii.Masker):
        scrubber: Scrubber = pii.sentry_scrubber(masker)
        return scrubber
    report_internal_error(
        "errors.sentry_masker",
        TypeError(f"Sentry needs an otel_secretary.pii.Masker, got {type(masker).__name__}: items dropped"),
    )
    return lambda event, hint: None


def _filter_request(event: Event) -> None:
    """Our own client's data minimisation: no body, cookies or environ, headers from an allow-list."""
    request = event.get("request")
    if not isinstance(request, dict):
        return
    for key in ("data", "cookies", "env"):
        request.pop(key, None)
    headers = request.get("headers")
    if isinstance(headers, dict):
        request["headers"] = {k: v for k, v in headers.items() if str(k).lower() in HEADER_ALLOW_LIST}


def active_trace_ids() -> tuple[str, str] | None:
    """(trace id, span id) of the active OTel span, hex, or ``None`` outside a span."""
    ctx = trace.get_current_span().get_span_context()
    if not ctx.is_valid:
        return None
    return trace.format_trace_id(ctx.trace_id), trace.format_span_id(ctx.span_id)


def _link_trace(event: Event) -> None:
    ids = active_trace_ids()
    if ids is None:
        return
    contexts = event.setdefault("contexts", {})
    trace_context = contexts.setdefault("trace", {})
    trace_context["trace_id"], trace_context["span_id"] = ids
    event.setdefault("tags", {})["otel.trace_id"] = ids[0]
    event_id = event.get("event_id")
    span = trace.get_current_span()
    if isinstance(event_id, str) and span.is_recording():
        span.set_attribute("sentry.event_id", event_id)


def _message_key(event: Event) -> str:
    logentry = event.get("logentry")
    text = logentry.get("message") if isinstance(logentry, dict) else event.get("message")
    return "msg:" + hashlib.sha256(normalise_message(str(text or "")).encode()).hexdigest()[:16]


def _pseudonym(value: str) -> str:
    from otel_secretary.context import pseudonymize

    return pseudonymize(value)


def _no_ip_inference(event: Event) -> None:
    """``sdk.settings.infer_ip`` = never: Sentry's ingest must not fill in the client's IP address."""
    sdk = event.get("sdk")
    if isinstance(sdk, dict):
        settings = sdk.get("settings")
        if isinstance(settings, dict):
            settings["infer_ip"] = "never"


class SentryEventProcessor:
    """``before_send`` / ``_transaction`` / ``before_breadcrumb`` / ``before_send_log`` / ``_metric``.

    Installed on our own client and chained after the app's hooks on the app's clients, so it is
    always the last thing that sees an item before the transport (which masks once more)."""

    def __init__(
        self,
        recorder: ErrorRecorder,
        masker: Masker | None,
        sampler: RepeatSampler,
        *,
        owns_client: Callable[[], bool] = lambda: True,
    ) -> None:
        self.recorder = recorder
        self.sampler = sampler
        self.masker = masker
        self._owns_client = owns_client
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
            if self._owns_client():
                _filter_request(event)
            user = event.get("user")
            scrubbed = self._scrub_in_trace(event, hint)
            if scrubbed is None:
                return None
            self._enrich(scrubbed, info, occurrence, user if isinstance(user, dict) else None)
            return scrubbed
        except Exception as failure:
            report_internal_error("errors.sentry_before_send", failure)
            return None  # fail closed: an unscrubbed event must not leave the process

    def _scrub_in_trace(self, event: Event, hint: Hint) -> Event | None:
        """Scrub inside the active trace's name scope: names learned from its structured places (and
        from a Celery task's arguments under their parameter names) are masked wherever they recur in
        the event, e.g. in the frame locals of Celery's own code, which hold the arguments unnamed."""
        named: dict[str, Any] | None = None
        if "celery" in sys.modules:
            named = celery_arguments.name_sentry_celery_job(event)
        trace_id = trace.get_current_span().get_span_context().trace_id
        scope = getattr(self.masker, "trace_scope", None)
        if not trace_id or scope is None:
            return self._scrub(event, hint)
        if named:
            self.masker.learn(trace_id, named)  # type: ignore[union-attr]
        with scope(trace_id):
            return self._scrub(event, hint)

    def _enrich(self, event: Event, info: Any, occurrence: int, app_user: dict[str, Any] | None) -> None:
        tags = event.setdefault("tags", {})
        if info is not None:
            event["fingerprint"] = [info.fingerprint]
            event["level"] = _LEVEL_BY_SEVERITY.get(info.severity, "error")
            tags.update({"app.error.category": info.category, "app.error.severity": info.severity})
            tags["app.error.fingerprint"] = info.fingerprint
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
        app_id = app_user.get("id") if app_user else None
        if "enduser.id" in found:  # already a keyed pseudonym (see otel_secretary.context)
            event["user"] = {"id": self._mask_text(str(found["enduser.id"]))}
        elif app_id not in (None, ""):  # the app's own sentry_sdk.set_user: its id, pseudonymised
            event["user"] = {"id": _pseudonym(str(app_id))}
        else:
            event.pop("user", None)  # never e-mail, username or ip_address
        _no_ip_inference(event)
        event.setdefault("extra", {})["app.error.occurrences"] = occurrence
        _link_trace(event)

    def before_send_transaction(self, event: Event, hint: Hint) -> Event | None:
        try:
            if self._owns_client():
                _filter_request(event)
            event.pop("user", None)
            scrubbed = self._scrub_in_trace(event, hint)
            if scrubbed is not None:
                _no_ip_inference(scrubbed)
            return scrubbed
        except Exception as failure:
            report_internal_error("errors.sentry_before_send_transaction", failure)
            return None

    def before_breadcrumb(self, crumb: dict[str, Any], hint: Hint | None) -> dict[str, Any] | None:
        return self._masked_or_dropped(crumb, hint, "errors.sentry_before_breadcrumb")

    def before_send_log(self, log: dict[str, Any], hint: Hint | None) -> dict[str, Any] | None:
        """Sentry Logs (``enable_logs``): masked like any log, linked to the active OTel trace."""
        try:
            masked = self._scrub(log, hint or {})
            if not isinstance(masked, dict):
                return None
            ids = active_trace_ids()
            if ids is not None:
                masked["trace_id"], masked["span_id"] = ids
            return masked
        except Exception as failure:
            report_internal_error("errors.sentry_before_send_log", failure)
            return None

    def before_send_metric(self, metric: dict[str, Any], hint: Hint | None) -> dict[str, Any] | None:
        return self._masked_or_dropped(metric, hint, "errors.sentry_before_send_metric")

    def _masked_or_dropped(
        self, item: dict[str, Any], hint: Hint | None, where: str
    ) -> dict[str, Any] | None:
        """The masked copy of a breadcrumb or metric; None (dropped, fail closed) when masking failed."""
        try:
            masked = self._scrub(item, hint or {})
            return masked if isinstance(masked, dict) else None
        except Exception as failure:
            report_internal_error(where, failure)
            return None


def our_client_options(dsn: str, environment: str, extra: Mapping[str, Any] | None) -> dict[str, Any]:
    """Options of the client we create; the hooks are added when the client is built (see clients)."""
    options: dict[str, Any] = {
        "dsn": dsn,
        "environment": environment,
        "send_default_pii": False,
        "traces_sample_rate": None,  # Sentry tracing off: OTel owns traces
        "include_local_variables": False,  # locals routinely hold e-mails and tokens
        "max_request_body_size": "never",
        "integrations": _integrations(),
    }
    options.update(extra or {})
    return options


def _integrations() -> list[Any]:
    try:
        from sentry_sdk.integrations.otlp import OTLPIntegration

        return [OTLPIntegration(setup_otlp_traces_exporter=False, setup_propagator=False)]
    except Exception:  # DidNotEnable without the OTLP exporter; before_send links the trace anyway
        return []
