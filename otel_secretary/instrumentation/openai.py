"""OpenAI client instrumentation: upstream genai-openai for inference spans, plus what it lacks.

``opentelemetry-instrumentation-genai-openai`` (openai-v2's maintained successor) already emits the
GenAI spans and M1-M4 for chat, streaming, embeddings and the Responses API, sync and async, and
ends abandoned streams; we reuse it rather than re-implement it, and give it our completion hook
(:class:`~otel_secretary.genai._hook.SecretaryCompletionHook`) so its spans get the same cost
attribute and metric, requested tool calls and ``OTEL_SECRETARY_CAPTURE_CONTENT`` behaviour as
``@traced_ai_call``.

It folds retries into one span, though, and ignores rate-limit headers. So this instrumentor watches
each physical attempt of the openai client's own retry loop (``_send_request``): it records
``http.client.request.duration`` and gauges of remaining requests/tokens (so an alert can fire
before the 429 storm) for every attempt, and only when a call is *retried* does it add HTTP CLIENT
child spans, one per attempt, with ``http.request.resend_count`` (from ``x-stainless-retry-count``)
and the ``x-ratelimit-*`` headers. The first attempt's span is then written after the fact from
what was kept of it, so a call that succeeds first time is one span, not two. The generic httpx2
instrumentation is suppressed inside every attempt, so an attempt never has two spans.

If the deprecated ``opentelemetry-instrumentation-openai-v2`` is installed too (e.g. by
``opentelemetry-bootstrap -a install``), it would wrap the same methods and emit a second GenAI span
per call: it is turned off (or kept from turning on) when ours instruments.

Entry point name ``secretary_openai``: several packages register ``openai``, and disabling that
name would disable all of them (reference §5). BaseInstrumentor is a singleton per class, and the
upstream instrumentor is only turned on if nobody has done so, so nothing is instrumented twice.
"""

from __future__ import annotations

import collections
import contextvars
import functools
import threading
import time
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from typing import Any, Final

from opentelemetry import context as context_api
from opentelemetry import trace
from opentelemetry.context import _SUPPRESS_HTTP_INSTRUMENTATION_KEY as _SUPPRESS_HTTP_KEY
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]
from opentelemetry.instrumentation.utils import unwrap
from opentelemetry.metrics import CallbackOptions, MeterProvider, Observation, get_meter
from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as GenAI
from opentelemetry.semconv.attributes import error_attributes, http_attributes, server_attributes
from opentelemetry.trace import SpanKind, Status, StatusCode, Tracer, TracerProvider
from wrapt import wrap_function_wrapper

from otel_secretary import semconv
from otel_secretary._internal.fork_reset import renew_lock, reset_in_forked_child
from otel_secretary._internal.self_monitoring import report_internal_error
from otel_secretary.version import __version__

from ._common import (
    SCOPE,
    Instruments,
    make_tracer,
    qualified_name,
    response_header_attributes,
    server_of,
    template_path,
)
from ._trace_headers import inject_trace_context

RATELIMIT_REMAINING: Final = semconv.RATELIMIT_REMAINING.name
RATELIMIT_LIMIT: Final = semconv.RATELIMIT_LIMIT.name
RATELIMIT_UTILIZATION: Final = semconv.RATELIMIT_UTILIZATION.name
ATTR_RATELIMIT_RESOURCE: Final = semconv.RATELIMIT_RESOURCE
_RECORDED_HEADERS: Final = (
    "retry-after",
    "retry-after-ms",
    "x-ratelimit-limit-requests",
    "x-ratelimit-limit-tokens",
    "x-ratelimit-remaining-requests",
    "x-ratelimit-remaining-tokens",
    "x-request-id",
)


class RateLimitGauges:
    """Last ``x-ratelimit-*`` values per resource (requests, tokens); utilization = 1 - remaining/limit.

    Observable gauges, read lazily: a call only queues its response headers (one deque append), and
    the SDK's collection parses the queued headers in arrival order before reading the values, so a
    model call pays nothing for three gauges per resource (four header lookups cost ~20 µs). The queue
    is bounded; if more responses arrive between two collections, the oldest are dropped, which only
    matters if the newest ones all lacked a header the dropped ones had.
    """

    _QUEUE: Final = 256

    def __init__(self, meter_provider: MeterProvider | None) -> None:
        meter = get_meter(SCOPE, __version__, meter_provider=meter_provider)
        # (provider, host, resource) -> (remaining, limit); folded from the queue by collection.
        self._last: dict[tuple[str, str | None, str], tuple[float | None, float | None]] = {}
        self._attributes: dict[tuple[str, str | None, str], dict[str, str]] = {}
        self._queue: collections.deque[tuple[str, str | None, Any]] = collections.deque(maxlen=self._QUEUE)
        self._lock = threading.Lock()  # taken by the metric reader's thread while it collects
        reset_in_forked_child(self, renew_lock)
        semconv.observable_gauge(
            meter, semconv.RATELIMIT_REMAINING, [self._observe(lambda remaining, limit: remaining)]
        )
        semconv.observable_gauge(
            meter, semconv.RATELIMIT_LIMIT, [self._observe(lambda remaining, limit: limit)]
        )
        semconv.observable_gauge(
            meter,
            semconv.RATELIMIT_UTILIZATION,
            [
                self._observe(
                    lambda remaining, limit: (
                        max(0.0, min(1.0, 1.0 - remaining / limit))
                        if remaining is not None and limit
                        else None
                    )
                )
            ],
        )

    def _observe(self, value_of: Callable[[float | None, float | None], float | None]) -> Callable[..., Any]:
        def callback(_options: CallbackOptions) -> Iterable[Observation]:
            self._fold()
            for key, (remaining, limit) in list(self._last.items()):
                value = value_of(remaining, limit)
                if value is not None:
                    yield Observation(value, self._attributes[key])

        return callback

    def record(self, provider: str, host: str | None, headers: Any) -> None:
        self._queue.append((provider, host, headers))

    def _fold(self) -> None:
        with self._lock:
            while self._queue:
                try:
                    provider, host, headers = self._queue.popleft()
                except IndexError:
                    return
                try:
                    self._read(provider, host, headers)
                except Exception as exc:
                    report_internal_error("openai.ratelimit_headers", exc)

    def _read(self, provider: str, host: str | None, headers: Any) -> None:
        for resource in ("requests", "tokens"):
            remaining = _number(headers.get(f"x-ratelimit-remaining-{resource}"))
            limit = _number(headers.get(f"x-ratelimit-limit-{resource}"))
            if remaining is None and limit is None:
                continue
            key = (provider, host, resource)
            if key not in self._attributes:
                attributes = {GenAI.GEN_AI_PROVIDER_NAME: provider, ATTR_RATELIMIT_RESOURCE: resource}
                if host:
                    attributes[server_attributes.SERVER_ADDRESS] = host
                self._attributes[key] = attributes
            previous = self._last.get(key, (None, None))
            self._last[key] = (
                remaining if remaining is not None else previous[0],
                limit if limit is not None else previous[1],
            )


def _number(value: Any) -> float | None:
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


@dataclass
class _Attempt:
    """What is kept of one physical attempt until we know whether a span is wanted for it."""

    parent_span_id: int
    method: str
    url: str
    resend_count: int
    start_ns: int
    end_ns: int = 0
    status: int | None = None
    error_type: str | None = None
    headers: Any = None  # the response's; read only if the attempt becomes a span
    span: Any = None  # a retry's own span, started live so the server sees it as the parent


# The first attempt of the call in progress, kept (not exported) in case a retry follows. A context
# variable: the retry loop runs in the caller's thread or task, and concurrent calls never mix.
_first_attempt: contextvars.ContextVar[_Attempt | None] = contextvars.ContextVar(
    "otel_secretary_openai_first_attempt", default=None
)


def start_attempt_span(tracer: _AttemptTracer, request: Any) -> _Attempt:
    """Begin one attempt: kept in memory if it is the first, a live span if it is a retry.

    A retry also writes the first attempt's span, now that it is known the call was retried.
    """
    parent = trace.get_current_span().get_span_context().span_id
    resend = _int(request.headers.get("x-stainless-retry-count"))
    attempt = _Attempt(parent, str(request.method), str(request.url), resend, time.time_ns())
    if resend > 0:
        previous = _first_attempt.get()
        _first_attempt.set(None)
        if previous is not None and previous.parent_span_id == parent:
            tracer.emit(previous)
        attempt.span = tracer.open(attempt)
    return attempt


class _AttemptTracer:
    """Wraps ``_send_request`` (one call per physical attempt of the openai client's retry loop)."""

    def __init__(self, tracer: Tracer, instruments: Instruments, gauges: RateLimitGauges) -> None:
        self.tracer = tracer
        self.instruments = instruments
        self.gauges = gauges

    def _start(self, request: Any) -> _Attempt:
        return start_attempt_span(self, request)

    def _end(self, attempt: _Attempt, response: Any, error: BaseException | None) -> None:
        attempt.end_ns = time.time_ns()
        host, port, _path = _server_of(attempt.url)
        if response is not None:
            attempt.status = int(response.status_code)
            attempt.headers = response.headers
            self.gauges.record("openai", host, response.headers)
            if attempt.status >= 400:
                attempt.error_type = str(attempt.status)
        elif error is not None:
            attempt.error_type = qualified_name(error)
        self.instruments.http_duration.record(
            (attempt.end_ns - attempt.start_ns) / 1e9,
            _metric_attributes(attempt.method, host, port, attempt.status, attempt.error_type),
        )
        if attempt.span is not None:
            self._close(attempt.span, attempt)
        else:
            _first_attempt.set(attempt)

    def emit(self, attempt: _Attempt) -> None:
        """The first attempt's span, written after the fact with its own start and end times."""
        self._close(self.open(attempt), attempt)

    def open(self, attempt: _Attempt) -> Any:
        host, port, path = _server_of(attempt.url)
        template = template_path(path)
        attributes: dict[str, Any] = {
            http_attributes.HTTP_REQUEST_METHOD: attempt.method,
            "url.template": template,
            GenAI.GEN_AI_PROVIDER_NAME: "openai",
        }
        if host:
            attributes[server_attributes.SERVER_ADDRESS] = host
        if port:
            attributes[server_attributes.SERVER_PORT] = port
        if attempt.resend_count > 0:
            attributes[http_attributes.HTTP_REQUEST_RESEND_COUNT] = attempt.resend_count
        return self.tracer.start_span(
            f"{attempt.method} {template}",
            kind=SpanKind.CLIENT,
            attributes=attributes,
            start_time=attempt.start_ns,
        )

    @staticmethod
    def _close(span: Any, attempt: _Attempt) -> None:
        if attempt.status is not None:
            span.set_attribute(http_attributes.HTTP_RESPONSE_STATUS_CODE, attempt.status)
        if attempt.error_type is not None:
            span.set_attribute(error_attributes.ERROR_TYPE, attempt.error_type)
            span.set_status(Status(StatusCode.ERROR))
        if attempt.headers is not None:
            span.set_attributes(response_header_attributes(attempt.headers, _RECORDED_HEADERS))
        span.end(end_time=attempt.end_ns or None)

    def sync(self, wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        request: Any = args[0] if args else kwargs.get("request")
        attempt = self._safe_start(request)
        if attempt is None:
            return wrapped(*args, **kwargs)
        with _only_this_attempt(self, attempt, request.headers) as scope:
            scope.response = wrapped(*args, **kwargs)
        return scope.response

    async def asynchronous(
        self, wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        request: Any = args[0] if args else kwargs.get("request")
        attempt = self._safe_start(request)
        if attempt is None:
            return await wrapped(*args, **kwargs)
        with _only_this_attempt(self, attempt, request.headers) as scope:
            scope.response = await wrapped(*args, **kwargs)
        return scope.response

    def _safe_start(self, request: Any) -> _Attempt | None:
        try:
            return self._start(request)
        except Exception as exc:
            report_internal_error("openai.attempt_start", exc)
            return None

    def _safe_end(self, attempt: _Attempt, response: Any, error: BaseException | None) -> None:
        try:
            self._end(attempt, response, error)
        except Exception as exc:
            report_internal_error("openai.attempt_end", exc)


class _only_this_attempt:
    """The ``with`` block of one attempt, for the sync and async paths alike: inject ``traceparent``
    into the outgoing headers and keep the generic httpx2 spans out; the block stores the response,
    and leaving it, normally or by an exception, ends the attempt.

    One context attach for both (the retry's span, if any, and the HTTP suppression key) instead of
    two nested context managers: this runs on every attempt of every call.
    """

    __slots__ = ("_attempt", "_attempts", "_carrier", "_token", "response")

    def __init__(self, attempts: _AttemptTracer, attempt: _Attempt, carrier: Any) -> None:
        self._attempts = attempts
        self._attempt = attempt
        self._carrier = carrier
        self._token: object | None = None
        self.response: Any = None

    def __enter__(self) -> _only_this_attempt:
        ctx = context_api.get_current()
        span = self._attempt.span
        if span is not None:
            ctx = trace.set_span_in_context(span, ctx)
        self._token = context_api.attach(context_api.set_value(_SUPPRESS_HTTP_KEY, True, ctx))
        try:
            inject_trace_context(self._carrier, ctx)
        except Exception as exc:
            report_internal_error("instrumentation.inject", exc)
        return self

    def __exit__(self, exc_type: object, error: BaseException | None, traceback: object) -> None:
        if self._token is not None:
            context_api.detach(self._token)  # type: ignore[arg-type]
        self._attempts._safe_end(self._attempt, self.response, error)


@functools.lru_cache(maxsize=512)
def _metric_attributes(
    method: str, host: str | None, port: int | None, status: int | None, error_type: str | None
) -> dict[str, Any]:
    """``http.client.request.duration`` attributes, built once per distinct set (the SDK copies them)."""
    attributes: dict[str, Any] = {http_attributes.HTTP_REQUEST_METHOD: method}
    if host:
        attributes[server_attributes.SERVER_ADDRESS] = host
    if port:
        attributes[server_attributes.SERVER_PORT] = port
    if status is not None:
        attributes[http_attributes.HTTP_RESPONSE_STATUS_CODE] = status
    if error_type is not None:
        attributes[error_attributes.ERROR_TYPE] = error_type
    return attributes


@functools.lru_cache(maxsize=256)
def _server_of(url: str) -> tuple[str | None, int | None, str]:
    """``server_of`` cached: a client calls the same few endpoint URLs over and over."""
    return server_of(url)


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


class SecretaryOpenAIInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """genai-openai inference spans with our completion hook, retry spans and rate-limit gauges.

    ``instrument(inference_spans=False)`` adds only the attempt layer (e.g. when another GenAI
    instrumentation is preferred for inference spans).
    """

    _owns_upstream: bool = False
    _restore_upstream: bool = False
    _wraps_embeddings: bool = False
    _wraps_inside_decorator: bool = False
    _held_back: Any = None

    def instrumentation_dependencies(self) -> Collection[str]:
        return ("openai >= 1.26.0",)

    def _instrument(self, **kwargs: Any) -> None:
        tracer_provider: TracerProvider | None = kwargs.get("tracer_provider")
        meter_provider: MeterProvider | None = kwargs.get("meter_provider")
        if kwargs.get("inference_spans", True):
            # openai-v2 first: wrapt's unwrap pops the outermost wrapper, so each instrumentor we turn
            # off pops one layer; off-then-on keeps the stack right whichever loaded first.
            type(self)._held_back = _hold_back_openai_v2()
            hook = _completion_hook(kwargs)
            # Inside upstream's wrapper (so installed before it): util-genai calls no completion hook
            # for embeddings, so their cost is read from the result while upstream's span is current.
            costs = _EmbeddingCost(hook.telemetry)
            wrap_function_wrapper("openai.resources.embeddings", "Embeddings.create", costs.sync)
            wrap_function_wrapper("openai.resources.embeddings", "AsyncEmbeddings.create", costs.asynchronous)
            type(self)._wraps_embeddings = True
            self._instrument_upstream(kwargs, hook)
        attempts = _AttemptTracer(
            make_tracer(tracer_provider), Instruments(meter_provider), RateLimitGauges(meter_provider)
        )
        wrap_function_wrapper("openai._base_client", "SyncAPIClient._send_request", attempts.sync)
        wrap_function_wrapper("openai._base_client", "AsyncAPIClient._send_request", attempts.asynchronous)

    def _instrument_upstream(self, kwargs: dict[str, Any], hook: Any) -> None:
        try:
            from opentelemetry.instrumentation.genai.openai import OpenAIInstrumentor
        except ImportError as exc:  # the dependency is declared; a broken install must not break the app
            report_internal_error("openai.upstream_import", exc)
            return
        upstream = OpenAIInstrumentor()
        forwarded = {
            k: v for k, v in kwargs.items() if k in ("tracer_provider", "meter_provider", "logger_provider")
        }
        if upstream.is_instrumented_by_opentelemetry:
            # Its own entry point (``openai``) loaded first: without our hook its spans would get no
            # cost and ignore OTEL_SECRETARY_CAPTURE_CONTENT. Take it over; put it back on uninstrument.
            upstream.uninstrument()
            type(self)._restore_upstream = True
        import opentelemetry.instrumentation.genai.openai as upstream_module

        # genai-openai builds its handler inside instrument(); for that call only, it gets our subclass.
        namespace = vars(upstream_module)
        original = namespace["TelemetryHandler"]
        namespace["TelemetryHandler"] = _handler_class(original)
        try:
            upstream.instrument(**forwarded, completion_hook=hook)
        finally:
            namespace["TelemetryHandler"] = original
        type(self)._owns_upstream = True
        try:
            from .openai_inside_decorator import ChatInsideDecorator

            inside = ChatInsideDecorator()
        except Exception as exc:  # an upstream version without the helpers: the ordinary path only
            report_internal_error("openai.inside_decorator", exc)
            return
        # Outside genai-openai's wrappers: under @traced_ai_call it calls the method beneath them.
        wrap_function_wrapper("openai.resources.chat.completions", "Completions.create", inside.sync)
        wrap_function_wrapper(
            "openai.resources.chat.completions", "AsyncCompletions.create", inside.asynchronous
        )
        type(self)._wraps_inside_decorator = True

    def _uninstrument(self, **kwargs: Any) -> None:
        import openai._base_client as base

        unwrap(base.SyncAPIClient, "_send_request")
        unwrap(base.AsyncAPIClient, "_send_request")
        cls = type(self)
        if cls._wraps_inside_decorator:  # outermost: unwrapped before genai-openai pops its own
            import openai.resources.chat.completions as chat

            unwrap(chat.Completions, "create")
            unwrap(chat.AsyncCompletions, "create")
            cls._wraps_inside_decorator = False
        if cls._owns_upstream:
            from opentelemetry.instrumentation.genai.openai import OpenAIInstrumentor

            OpenAIInstrumentor().uninstrument()
            cls._owns_upstream = False
            if cls._restore_upstream:
                OpenAIInstrumentor().instrument()
                cls._restore_upstream = False
        if cls._wraps_embeddings:
            import openai.resources.embeddings as embeddings

            unwrap(embeddings.Embeddings, "create")
            unwrap(embeddings.AsyncEmbeddings, "create")
            cls._wraps_embeddings = False
        if cls._held_back is not None:
            _release_openai_v2(cls._held_back)
            cls._held_back = None


def _completion_hook(kwargs: dict[str, Any]) -> Any:
    """Our hook, wrapping the user's own (argument or OTEL_INSTRUMENTATION_GENAI_COMPLETION_HOOK)."""
    from opentelemetry.util.genai.completion_hook import _NoOpCompletionHook, load_completion_hook

    from otel_secretary.genai._hook import SecretaryCompletionHook
    from otel_secretary.genai._telemetry import GenAITelemetry, default_telemetry

    forwarded = {
        k: v for k, v in kwargs.items() if k in ("tracer_provider", "meter_provider", "logger_provider")
    }
    inner = kwargs.get("completion_hook") or load_completion_hook()
    if isinstance(inner, _NoOpCompletionHook):
        inner = None
    telemetry = kwargs.get("genai_telemetry")
    if not isinstance(telemetry, GenAITelemetry):
        if forwarded.get("meter_provider") is None:
            telemetry = default_telemetry()
        else:
            from otel_secretary.settings import load_settings

            telemetry = GenAITelemetry.from_settings(
                load_settings(),
                forwarded.get("tracer_provider"),
                forwarded.get("meter_provider"),
                forwarded.get("logger_provider"),
            )
    return SecretaryCompletionHook(telemetry, inner)


def _handler_class(base: Any) -> Any:
    """util-genai's handler, minus content work whose result would be thrown away.

    Our hook makes util-genai report "capture content" for every call (a hook may want it), so
    genai-openai converts every prompt and answer into message objects. Inside ``@traced_ai_call``
    its invocation is suppressed and publishes content only if the outer one asked for it, which
    ours never does (the decorator reads the response itself): skip the conversion there.
    """
    from opentelemetry.context import get_value
    from opentelemetry.util.genai.invocation import CLIENT_INFERENCE_CONTEXT_KEY, InferenceData

    class SecretaryTelemetryHandler(base):  # type: ignore[misc,valid-type]
        def should_capture_content(self) -> bool:
            if not super().should_capture_content():
                return False
            outer = get_value(CLIENT_INFERENCE_CONTEXT_KEY)
            if isinstance(outer, InferenceData):
                return bool(outer.capture_content or outer.upload_completion)
            return True

    return SecretaryTelemetryHandler


class _EmbeddingCost:
    """Cost of an auto-instrumented embeddings call, set on genai-openai's (still open) span."""

    def __init__(self, telemetry: Any) -> None:
        self.telemetry = telemetry

    def _record(self, result: Any, kwargs: dict[str, Any]) -> None:
        try:
            span: Any = trace.get_current_span()
            scope = getattr(getattr(span, "instrumentation_scope", None), "name", None)
            # Only upstream's own span: under @traced_ai_call upstream is suppressed and ours prices it.
            if scope != _UPSTREAM_SCOPE or not span.is_recording():
                return
            from otel_secretary.genai._extract import get, read_usage
            from otel_secretary.genai._telemetry import COST_ATTRIBUTE, tenant_from_baggage

            usage = read_usage(get(result, "usage"))
            if not usage.known:
                return
            request_model = kwargs.get("model") if isinstance(kwargs.get("model"), str) else None
            response_model = get(result, "model")
            cost = self.telemetry.record_cost(
                "openai",
                request_model,
                response_model if isinstance(response_model, str) else None,
                usage,
                tenant_from_baggage(),
            )
            if cost is not None:
                span.set_attribute(COST_ATTRIBUTE, cost)
        except Exception as exc:
            report_internal_error("openai.embedding_cost", exc)

    def sync(self, wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        result = wrapped(*args, **kwargs)
        self._record(result, kwargs)
        return result

    async def asynchronous(
        self, wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        result = await wrapped(*args, **kwargs)
        self._record(result, kwargs)
        return result


_UPSTREAM_SCOPE: Final = "opentelemetry.instrumentation.genai.openai"


def _hold_back_openai_v2() -> Any:
    """Keep the deprecated openai-v2 instrumentor from adding a second GenAI span per call.

    Already on: turned off. Not yet on (its entry point loads after ours): marked as instrumented, so
    its ``instrument()`` is a no-op. Returns what to undo on uninstrument, or None if it is absent
    (or, as with openai-v2 2.4b0 beside util-genai 1.3, cannot even be imported).
    """
    try:
        from opentelemetry.instrumentation.openai_v2 import (  # type: ignore[import-not-found,unused-ignore]
            OpenAIInstrumentor as OpenAIV2Instrumentor,
        )
    except Exception:
        return None
    try:
        legacy = OpenAIV2Instrumentor()
        if legacy.is_instrumented_by_opentelemetry:
            legacy.uninstrument()
        legacy._is_instrumented_by_opentelemetry = True
        return legacy
    except Exception as exc:
        report_internal_error("openai.hold_back_v2", exc)
        return None


def _release_openai_v2(legacy: Any) -> None:
    legacy._is_instrumented_by_opentelemetry = False
