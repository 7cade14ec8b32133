"""OpenAI client instrumentation: upstream genai-openai for inference spans, plus what it lacks.

``opentelemetry-instrumentation-genai-openai`` (openai-v2's maintained successor) already emits the
GenAI spans and M1-M4 for chat, streaming, embeddings and the Responses API, sync and async, and
ends abandoned streams; we reuse it rather than re-implement it. It folds retries into one span,
though, and ignores rate-limit headers. So this instrumentor adds, per physical attempt of the
openai client's own retry loop (``_send_request``): an HTTP CLIENT child span with
``http.request.resend_count`` (from ``x-stainless-retry-count``) and the ``x-ratelimit-*`` headers,
and gauges of remaining requests/tokens so an alert can fire before the 429 storm. The generic
httpx2 instrumentation is suppressed inside our attempt span, so each attempt has exactly one span.

Entry point name ``secretary_openai``: several packages register ``openai``, and disabling that
name would disable all of them (reference §5). BaseInstrumentor is a singleton per class, and the
upstream instrumentor is only turned on if nobody has done so, so nothing is instrumented twice.
"""

from __future__ import annotations

import timeit
from collections.abc import Collection
from typing import Any, Final

from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]
from opentelemetry.instrumentation.utils import unwrap
from opentelemetry.metrics import MeterProvider, get_meter
from opentelemetry.metrics import _Gauge as Gauge
from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as GenAI
from opentelemetry.semconv.attributes import server_attributes
from opentelemetry.trace import Tracer, TracerProvider
from wrapt import wrap_function_wrapper

from otel_secretary._internal.self_monitoring import report_internal_error
from otel_secretary.version import __version__

from ._common import (
    SCOPE,
    Instruments,
    end_attempt_span,
    make_tracer,
    only_http_span,
    response_header_attributes,
    server_of,
    start_attempt_span,
)

RATELIMIT_REMAINING: Final = "otel_secretary.ratelimit.remaining"
RATELIMIT_LIMIT: Final = "otel_secretary.ratelimit.limit"
RATELIMIT_UTILIZATION: Final = "otel_secretary.ratelimit.utilization"
ATTR_RATELIMIT_RESOURCE: Final = "otel_secretary.ratelimit.resource"
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
    """Last ``x-ratelimit-*`` values per resource (requests, tokens); utilization = 1 - remaining/limit."""

    def __init__(self, meter_provider: MeterProvider | None) -> None:
        meter = get_meter(SCOPE, __version__, meter_provider=meter_provider)
        self.remaining: Gauge = meter.create_gauge(
            RATELIMIT_REMAINING,
            unit="1",
            description="Requests or tokens left in the provider's rate-limit window.",
        )
        self.limit: Gauge = meter.create_gauge(
            RATELIMIT_LIMIT, unit="1", description="The provider's rate limit for requests or tokens."
        )
        self.utilization: Gauge = meter.create_gauge(
            RATELIMIT_UTILIZATION,
            unit="1",
            description="Share of the rate-limit window used (0..1); near 1 means 429s are imminent.",
        )

    def record(self, provider: str, host: str | None, headers: Any) -> None:
        for resource in ("requests", "tokens"):
            remaining = _number(headers.get(f"x-ratelimit-remaining-{resource}"))
            limit = _number(headers.get(f"x-ratelimit-limit-{resource}"))
            attributes = {GenAI.GEN_AI_PROVIDER_NAME: provider, ATTR_RATELIMIT_RESOURCE: resource}
            if host:
                attributes[server_attributes.SERVER_ADDRESS] = host
            if remaining is not None:
                self.remaining.set(remaining, attributes)
            if limit is not None:
                self.limit.set(limit, attributes)
            if remaining is not None and limit:
                self.utilization.set(max(0.0, min(1.0, 1.0 - remaining / limit)), attributes)


def _number(value: Any) -> float | None:
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


class _AttemptTracer:
    """Wraps ``_send_request`` (one call per physical attempt of the openai client's retry loop)."""

    def __init__(self, tracer: Tracer, instruments: Instruments, gauges: RateLimitGauges) -> None:
        self.tracer = tracer
        self.instruments = instruments
        self.gauges = gauges

    def _start(self, request: Any) -> tuple[Any, dict[str, Any], float]:
        resend = _int(request.headers.get("x-stainless-retry-count"))
        span, metric_attributes = start_attempt_span(
            self.tracer, str(request.method), str(request.url), resend, {GenAI.GEN_AI_PROVIDER_NAME: "openai"}
        )
        return span, metric_attributes, timeit.default_timer()

    def _end(
        self,
        state: tuple[Any, dict[str, Any], float],
        request: Any,
        response: Any,
        error: BaseException | None,
    ) -> None:
        span, metric_attributes, started = state
        status = int(response.status_code) if response is not None else None
        if response is not None:
            span.set_attributes(response_header_attributes(response.headers, _RECORDED_HEADERS))
            host, _port, _path = server_of(str(request.url))
            self.gauges.record("openai", host, response.headers)
        end_attempt_span(
            span, metric_attributes, status, error, timeit.default_timer() - started, self.instruments
        )

    def sync(self, wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        request: Any = args[0] if args else kwargs.get("request")
        try:
            state = self._start(request)
        except Exception as exc:
            report_internal_error("openai.attempt_start", exc)
            return wrapped(*args, **kwargs)
        response = None
        error: BaseException | None = None
        try:
            with only_http_span(state[0], request.headers):
                response = wrapped(*args, **kwargs)
            return response
        except BaseException as exc:
            error = exc
            raise
        finally:
            self._safe_end(state, request, response, error)

    async def asynchronous(
        self, wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        request: Any = args[0] if args else kwargs.get("request")
        try:
            state = self._start(request)
        except Exception as exc:
            report_internal_error("openai.attempt_start", exc)
            return await wrapped(*args, **kwargs)
        response = None
        error: BaseException | None = None
        try:
            with only_http_span(state[0], request.headers):
                response = await wrapped(*args, **kwargs)
            return response
        except BaseException as exc:
            error = exc
            raise
        finally:
            self._safe_end(state, request, response, error)

    def _safe_end(self, state: Any, request: Any, response: Any, error: BaseException | None) -> None:
        try:
            self._end(state, request, response, error)
        except Exception as exc:
            report_internal_error("openai.attempt_end", exc)


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


class SecretaryOpenAIInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """genai-openai inference spans + per-attempt HTTP spans and rate-limit gauges.

    ``instrument(inference_spans=False)`` adds only the attempt layer (e.g. when another GenAI
    instrumentation is preferred for inference spans).
    """

    _owns_upstream: bool = False

    def instrumentation_dependencies(self) -> Collection[str]:
        return ("openai >= 1.26.0",)

    def _instrument(self, **kwargs: Any) -> None:
        tracer_provider: TracerProvider | None = kwargs.get("tracer_provider")
        meter_provider: MeterProvider | None = kwargs.get("meter_provider")
        if kwargs.get("inference_spans", True):
            self._instrument_upstream(kwargs)
        attempts = _AttemptTracer(
            make_tracer(tracer_provider), Instruments(meter_provider), RateLimitGauges(meter_provider)
        )
        wrap_function_wrapper("openai._base_client", "SyncAPIClient._send_request", attempts.sync)
        wrap_function_wrapper("openai._base_client", "AsyncAPIClient._send_request", attempts.asynchronous)

    def _instrument_upstream(self, kwargs: dict[str, Any]) -> None:
        try:
            from opentelemetry.instrumentation.genai.openai import OpenAIInstrumentor
        except ImportError as exc:  # the dependency is declared; a broken install must not break the app
            report_internal_error("openai.upstream_import", exc)
            return
        upstream = OpenAIInstrumentor()
        if upstream.is_instrumented_by_opentelemetry:
            return
        forwarded = {
            k: v for k, v in kwargs.items() if k in ("tracer_provider", "meter_provider", "logger_provider")
        }
        upstream.instrument(**forwarded)
        type(self)._owns_upstream = True

    def _uninstrument(self, **kwargs: Any) -> None:
        import openai._base_client as base

        unwrap(base.SyncAPIClient, "_send_request")
        unwrap(base.AsyncAPIClient, "_send_request")
        if type(self)._owns_upstream:
            from opentelemetry.instrumentation.genai.openai import OpenAIInstrumentor

            OpenAIInstrumentor().uninstrument()
            type(self)._owns_upstream = False
