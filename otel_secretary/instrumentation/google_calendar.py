"""Google Calendar (and any googleapiclient API) instrumentation through the ``requestBuilder`` hook.

Neither googleapiclient nor httplib2 has OTel instrumentation, so generic HTTP instrumentation sees
nothing. ``build(..., requestBuilder=TracedHttpRequest)`` makes each ``execute()`` one CLIENT span
named after the API method (``calendar.events.insert``); googleapiclient retries 5xx, 429 and 403
``rateLimitExceeded`` *inside* one ``execute(num_retries=N)``, so every physical attempt is an HTTP
child span with ``http.request.resend_count``. Failures carry ``error.type`` = Google's reason
(``rateLimitExceeded``, ``userRateLimitExceeded``, ``notFound`` …) or the status code.

Calendar ids are usually e-mail addresses in the URL path: paths are templated
(``/calendars/{calendarId}/events/{eventId}``) and the id is recorded only as ``primary`` or a hash.
:class:`GoogleCalendarInstrumentor` makes ``TracedHttpRequest`` the default request builder, which
is the path ``opentelemetry-instrument`` takes.
"""

from __future__ import annotations

import timeit
from collections.abc import Collection
from typing import Any, ClassVar, Final
from urllib.parse import unquote

from googleapiclient import discovery
from googleapiclient.errors import HttpError
from googleapiclient.http import HttpRequest
from opentelemetry import trace
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]
from opentelemetry.instrumentation.utils import unwrap
from opentelemetry.metrics import MeterProvider
from opentelemetry.semconv.attributes import error_attributes, http_attributes, server_attributes
from opentelemetry.trace import SpanKind, Status, StatusCode, Tracer, TracerProvider
from wrapt import wrap_function_wrapper

from otel_secretary._internal.self_monitoring import report_internal_error
from otel_secretary.errors import record_exception

from ._common import (
    Instruments,
    hash_value,
    make_tracer,
    qualified_name,
    server_of,
    traced_attempt,
)

SYSTEM: Final = "calendar"
ATTR_CALENDAR_ID: Final = "otel_secretary.calendar.id"
ATTR_GCP_REASON: Final = "gcp.error.reason"
# Collection segment -> name of the id segment that follows it in Calendar v3 paths.
_ID_AFTER: Final = {
    "calendars": "{calendarId}",
    "events": "{eventId}",
    "acl": "{ruleId}",
    "calendarList": "{calendarId}",
    "settings": "{setting}",
    "instances": "{eventId}",
}
_FIXED_SEGMENTS: Final = frozenset(
    {"events", "acl", "instances", "watch", "import", "quickAdd", "move", "clear"}
)


def template_calendar_path(path: str) -> tuple[str, str | None]:
    """(templated path, calendar id) for a Calendar API path; ids after known collections become names."""
    segments = path.split("/")
    calendar_id: str | None = None
    for index in range(1, len(segments)):
        previous, segment = segments[index - 1], segments[index]
        placeholder = _ID_AFTER.get(previous)
        if placeholder is None or not segment or segment in _FIXED_SEGMENTS:
            continue
        if placeholder == "{calendarId}" and calendar_id is None:
            calendar_id = unquote(segment)
        segments[index] = placeholder
    return "/".join(segments), calendar_id


def _calendar_label(calendar_id: str) -> str:
    return calendar_id if calendar_id == "primary" else hash_value(calendar_id)


def _google_reason(exc: HttpError) -> str | None:
    details = getattr(exc, "error_details", None)
    if isinstance(details, list) and details and isinstance(details[0], dict):
        reason = details[0].get("reason")
        if isinstance(reason, str) and reason:
            return reason
    return None


class _State:
    def __init__(self, tracer_provider: TracerProvider | None, meter_provider: MeterProvider | None) -> None:
        self.tracer: Tracer = make_tracer(tracer_provider)
        self.instruments = Instruments(meter_provider)


class _AttemptHttp:
    """Stands in for the ``http`` object during one ``execute``: each ``request`` is one attempt span."""

    def __init__(self, http: Any, state: _State, template: str) -> None:
        self._http = http
        self._state = state
        self._template = template
        self.attempts = 0
        self.last_status: int | None = None

    def request(self, uri: str, method: str = "GET", *args: Any, **kwargs: Any) -> Any:
        resend = self.attempts
        self.attempts += 1
        # httplib2 takes its headers in kwargs and no HTTP instrumentation wraps it: nothing to inject.
        with traced_attempt(
            self._state.tracer,
            self._state.instruments,
            method,
            uri,
            resend,
            None,
            where="calendar",
            status_of=lambda response: int(response[0].status),
            template=self._template,
            propagate_into_headers=False,
        ) as attempt:
            attempt.response = self._http.request(uri, method, *args, **kwargs)
        self.last_status = attempt.status
        return attempt.response

    def __getattr__(self, name: str) -> Any:
        return getattr(self._http, name)


class TracedHttpRequest(HttpRequest):  # type: ignore[misc]
    """``googleapiclient.http.HttpRequest`` whose ``execute`` is traced; pass it as ``requestBuilder``."""

    _state: ClassVar[_State | None] = None

    @classmethod
    def _get_state(cls) -> _State:
        if cls._state is None:
            cls._state = _State(None, None)
        return cls._state

    def execute(self, http: Any = None, num_retries: int = 0) -> Any:
        try:
            state = self._get_state()
            span, call_operation, started, attempt_http = self._begin(state, http)
        except Exception as exc:
            report_internal_error("calendar.begin", exc)
            return super().execute(http=http, num_retries=num_retries)
        error_type: str | None = None
        try:
            with trace.use_span(
                span, end_on_exit=False, record_exception=False, set_status_on_exception=False
            ):
                return super().execute(http=attempt_http, num_retries=num_retries)
        except HttpError as exc:
            status = int(exc.resp.status)
            reason = _google_reason(exc)
            error_type = reason or str(status)
            span.set_attribute(http_attributes.HTTP_RESPONSE_STATUS_CODE, status)
            if reason:
                span.set_attribute(ATTR_GCP_REASON, reason)
            record_exception(span, exc, system=SYSTEM)
            raise
        except BaseException as exc:
            error_type = qualified_name(exc)
            record_exception(span, exc, system=SYSTEM)
            raise
        finally:
            try:
                if error_type is None and attempt_http.last_status is not None:
                    span.set_attribute(http_attributes.HTTP_RESPONSE_STATUS_CODE, attempt_http.last_status)
                if attempt_http.attempts > 1:
                    span.set_attribute(http_attributes.HTTP_REQUEST_RESEND_COUNT, attempt_http.attempts - 1)
                if error_type is not None:
                    span.set_attribute(error_attributes.ERROR_TYPE, error_type)
                    span.set_status(Status(StatusCode.ERROR, error_type))
                span.end()
                state.instruments.record_call(
                    SYSTEM, call_operation, timeit.default_timer() - started, error_type
                )
            except Exception as exc:
                report_internal_error("calendar.end", exc)

    def _begin(self, state: _State, http: Any) -> tuple[Any, str, float, _AttemptHttp]:
        method_id = str(self.methodId or "google.api.request")
        host, port, path = server_of(str(self.uri))
        template, calendar_id = template_calendar_path(path)
        attributes: dict[str, Any] = {
            http_attributes.HTTP_REQUEST_METHOD: str(self.method),
            "url.template": template,
            "rpc.method": method_id,
        }
        if host:
            attributes[server_attributes.SERVER_ADDRESS] = host
        if port:
            attributes[server_attributes.SERVER_PORT] = port
        if calendar_id:
            attributes[ATTR_CALENDAR_ID] = _calendar_label(calendar_id)
        span = state.tracer.start_span(method_id, kind=SpanKind.CLIENT, attributes=attributes)
        attempt_http = _AttemptHttp(http if http is not None else self.http, state, template)
        return span, method_id, timeit.default_timer(), attempt_http


def traced_request_builder(
    tracer_provider: TracerProvider | None = None, meter_provider: MeterProvider | None = None
) -> type[TracedHttpRequest]:
    """A ``TracedHttpRequest`` subclass bound to explicit providers (tests, multiple pipelines)."""
    return type(
        "BoundTracedHttpRequest", (TracedHttpRequest,), {"_state": _State(tracer_provider, meter_provider)}
    )


class GoogleCalendarInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Make ``TracedHttpRequest`` the default ``requestBuilder`` of ``googleapiclient.discovery.build``."""

    def instrumentation_dependencies(self) -> Collection[str]:
        return ("google-api-python-client >= 2.0",)

    def _instrument(self, **kwargs: Any) -> None:
        TracedHttpRequest._state = _State(kwargs.get("tracer_provider"), kwargs.get("meter_provider"))
        wrap_function_wrapper("googleapiclient.discovery", "build_from_document", _default_request_builder)

    def _uninstrument(self, **kwargs: Any) -> None:
        unwrap(discovery, "build_from_document")
        TracedHttpRequest._state = None


def _default_request_builder(
    wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    # build() passes requestBuilder=HttpRequest (its default) by keyword; a custom builder is left alone.
    if len(args) < 7 and kwargs.get("requestBuilder", HttpRequest) is HttpRequest:
        kwargs["requestBuilder"] = TracedHttpRequest
    return wrapped(*args, **kwargs)


__all__ = [
    "GoogleCalendarInstrumentor",
    "TracedHttpRequest",
    "template_calendar_path",
    "traced_request_builder",
]
