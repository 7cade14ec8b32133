"""Pieces every outbound-call instrumentation here shares: attempt spans, metrics, id templating.

The shape is the same for OpenAI, Stripe, Google Calendar and ``@traced_external_call``: one logical
span per call (its duration includes retry backoff) and, beneath it, one HTTP CLIENT span per
physical attempt with ``http.request.resend_count``. Metrics carry only low-cardinality values
(system, templated operation, status, ``error.type``): never ids, e-mails or message text.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import timeit
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final
from urllib.parse import unquote, urlsplit

from opentelemetry import trace
from opentelemetry.instrumentation.utils import suppress_http_instrumentation
from opentelemetry.metrics import Counter, Histogram, MeterProvider, get_meter
from opentelemetry.semconv.attributes import (
    error_attributes,
    http_attributes,
    server_attributes,
)
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer, TracerProvider, get_tracer
from opentelemetry.util.types import AttributeValue

from otel_secretary import semconv
from otel_secretary._internal.self_monitoring import report_internal_error
from otel_secretary.version import __version__

from ._trace_headers import inject_trace_context

SCOPE: Final = "otel_secretary.instrumentation"
# Declared in otel_secretary.semconv; re-exported under the names the instrumentations use.
ATTR_SYSTEM: Final = semconv.EXTERNAL_SYSTEM
ATTR_OPERATION: Final = semconv.EXTERNAL_OPERATION
DURATION_METRIC: Final = semconv.EXTERNAL_DURATION.name
ERRORS_METRIC: Final = semconv.EXTERNAL_ERRORS.name

# A path segment that is an object id rather than a resource name: Stripe/OpenAI prefixed ids
# (cus_N2b…, pi_3Mt…, file-abc…, resp_…), numbers, UUIDs, hex digests and anything with an '@'.
# Resource names (``payment_intents``, ``max_tokens``) are lowercase words, so an id must contain a
# digit or an uppercase letter after its prefix.
_ID_SEGMENT = re.compile(
    r"^(?:[a-z]{1,12}[_-](?=[A-Za-z0-9_-]*[A-Z0-9])[A-Za-z0-9_-]{6,}|\d+|[0-9a-fA-F-]{16,}|.*@.*)$"
)


def template_path(path: str) -> str:
    """``/v1/payment_intents/pi_3Mt…/confirm`` → ``/v1/payment_intents/{id}/confirm``."""
    segments = path.split("/")
    return "/".join(
        "{id}" if segment and _ID_SEGMENT.match(unquote(segment)) else segment for segment in segments
    )


def hash_value(value: str) -> str:
    """A short, stable, non-reversible stand-in for a value that may embed personal or order data."""
    return "sha256:" + hashlib.sha256(value.encode("utf-8", "replace")).hexdigest()[:16]


def server_of(url: str) -> tuple[str | None, int | None, str]:
    """(host, port, path) of ``url``; the port defaults from the scheme so it is always present."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80 if parts.scheme == "http" else None)
    return parts.hostname, port, parts.path or "/"


class Instruments:
    """Metrics for one instrumentation scope: logical-call duration/errors and per-attempt HTTP duration."""

    def __init__(self, meter_provider: MeterProvider | None = None) -> None:
        meter = get_meter(SCOPE, __version__, meter_provider=meter_provider)
        self.duration: Histogram = semconv.histogram(meter, semconv.EXTERNAL_DURATION)
        self.errors: Counter = semconv.counter(meter, semconv.EXTERNAL_ERRORS)
        self.http_duration: Histogram = semconv.histogram(meter, semconv.HTTP_CLIENT_DURATION)

    def record_call(self, system: str, operation: str, seconds: float, error_type: str | None) -> None:
        attributes: dict[str, AttributeValue] = {ATTR_SYSTEM: system, ATTR_OPERATION: operation}
        if error_type:
            attributes[error_attributes.ERROR_TYPE] = error_type
            self.errors.add(1, attributes)
        self.duration.record(seconds, attributes)


def make_tracer(tracer_provider: TracerProvider | None) -> Tracer:
    return get_tracer(SCOPE, __version__, tracer_provider)


def start_attempt_span(
    tracer: Tracer,
    method: str,
    url: str,
    resend_count: int,
    extra: Mapping[str, AttributeValue] | None = None,
    *,
    template: str | None = None,
) -> tuple[Span, dict[str, AttributeValue]]:
    """An HTTP CLIENT span for one physical attempt, named ``{METHOD} {url.template}``.

    ``template`` overrides the generic id templating of the URL path (Calendar knows its own ids).
    Returns the span and the low-cardinality attributes to reuse on ``http.client.request.duration``.
    """
    host, port, path = server_of(url)
    template = template if template is not None else template_path(path)
    metric_attributes: dict[str, AttributeValue] = {http_attributes.HTTP_REQUEST_METHOD: method}
    if host:
        metric_attributes[server_attributes.SERVER_ADDRESS] = host
    if port:
        metric_attributes[server_attributes.SERVER_PORT] = port
    attributes: dict[str, AttributeValue] = {**metric_attributes, "url.template": template}
    if resend_count > 0:
        attributes[http_attributes.HTTP_REQUEST_RESEND_COUNT] = resend_count
    if extra:
        attributes.update(extra)
    span = tracer.start_span(f"{method} {template}", kind=SpanKind.CLIENT, attributes=attributes)
    return span, metric_attributes


def end_attempt_span(
    span: Span,
    metric_attributes: dict[str, AttributeValue],
    status: int | None,
    error: BaseException | None,
    seconds: float,
    instruments: Instruments,
) -> str | None:
    """Set status and ``error.type`` (status code as a string, else the exception class); returns it."""
    error_type: str | None = None
    if status is not None:
        span.set_attribute(http_attributes.HTTP_RESPONSE_STATUS_CODE, status)
        metric_attributes[http_attributes.HTTP_RESPONSE_STATUS_CODE] = status
        if status >= 400:
            error_type = str(status)
    elif error is not None:
        error_type = qualified_name(error)
    if error_type is not None:
        span.set_attribute(error_attributes.ERROR_TYPE, error_type)
        span.set_status(Status(StatusCode.ERROR))
        metric_attributes[error_attributes.ERROR_TYPE] = error_type
    span.end()
    instruments.http_duration.record(seconds, metric_attributes)
    return error_type


class Attempt:
    """One physical attempt in flight: the headers to send, and the response the caller stores."""

    __slots__ = ("headers", "response", "status")

    def __init__(self, headers: Any) -> None:
        self.headers = headers
        self.response: Any = None
        self.status: int | None = None


@contextlib.contextmanager
def traced_attempt(
    tracer: Tracer,
    instruments: Instruments,
    method: str,
    url: str,
    resend_count: int,
    headers: Any,
    *,
    where: str,
    status_of: Callable[[Any], int],
    template: str | None = None,
    on_response: Callable[[Span, Any], None] | None = None,
    propagate_into_headers: bool = True,
) -> Iterator[Attempt]:
    """The attempt span around one send, the same for sync and async callers (``with`` around ``await``).

    Usage: ``with traced_attempt(...) as attempt: attempt.response = [await] send(attempt.headers)``.
    ``status_of(response)`` reads the HTTP status; ``on_response(span, response)`` adds client-specific
    attributes before the span ends. A failure inside our code is reported as ``{where}.attempt_start`` /
    ``{where}.attempt_end`` and the call goes on untraced: it never reaches the caller.
    """
    try:
        span, metric_attributes = start_attempt_span(tracer, method, url, resend_count, template=template)
        started = timeit.default_timer()
    except Exception as exc:
        report_internal_error(f"{where}.attempt_start", exc)
        yield Attempt(headers)
        return
    attempt = Attempt(dict(headers or {}) if propagate_into_headers else headers)
    error: BaseException | None = None
    try:
        with only_http_span(span, attempt.headers if propagate_into_headers else None):
            yield attempt
    except BaseException as exc:
        error = exc
        raise
    finally:
        try:
            response = attempt.response
            if response is not None:
                attempt.status = status_of(response)
                if on_response is not None:
                    on_response(span, response)
            end_attempt_span(
                span, metric_attributes, attempt.status, error, timeit.default_timer() - started, instruments
            )
        except Exception as exc:
            report_internal_error(f"{where}.attempt_end", exc)


@contextlib.contextmanager
def only_http_span(span: Span, carrier: Any) -> Iterator[None]:
    """Make ``span`` current and the only HTTP span of this attempt.

    The generic HTTP instrumentations (requests for stripe's default client, httpx for openai's
    httpx2) would add a second span per attempt, without the retry count, with raw ids in
    ``url.full``; they are suppressed inside, and ``traceparent`` is injected into ``carrier``
    (the outgoing headers) here instead; ``carrier=None`` injects nothing (the client sets no headers).
    """
    with trace.use_span(span, end_on_exit=False, record_exception=False, set_status_on_exception=False):
        if carrier is not None:
            try:
                inject_trace_context(carrier)
            except Exception as exc:
                report_internal_error("instrumentation.inject", exc)
        with suppress_http_instrumentation():
            yield


def response_header_attributes(headers: Any, names: tuple[str, ...]) -> dict[str, AttributeValue]:
    """``http.response.header.<name>`` as string[] (semconv shape) for the headers present."""
    result: dict[str, AttributeValue] = {}
    for name in names:
        value = headers.get(name) if headers is not None else None
        if value is not None:
            result[f"http.response.header.{name}"] = [str(value)]
    return result


def qualified_name(exc: BaseException) -> str:
    """Class name with its public top-level package (``stripe.APIConnectionError``), builtins bare."""
    cls = type(exc)
    module = cls.__module__ or "builtins"
    if module == "builtins":
        return cls.__qualname__
    return f"{module.partition('.')[0]}.{cls.__qualname__}"


__all__ = [
    "ATTR_OPERATION",
    "ATTR_SYSTEM",
    "DURATION_METRIC",
    "ERRORS_METRIC",
    "Attempt",
    "Instruments",
    "end_attempt_span",
    "hash_value",
    "make_tracer",
    "only_http_span",
    "qualified_name",
    "response_header_attributes",
    "server_of",
    "start_attempt_span",
    "template_path",
    "traced_attempt",
]
