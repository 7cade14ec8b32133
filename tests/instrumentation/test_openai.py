"""SecretaryOpenAIInstrumentor: genai-openai spans plus per-attempt HTTP spans and rate-limit gauges."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from importlib.metadata import entry_points
from typing import Any

import openai
import pytest
from opentelemetry.instrumentation.genai.openai import OpenAIInstrumentor
from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as GenAI
from opentelemetry.semconv.attributes import error_attributes, http_attributes
from opentelemetry.trace import SpanKind, StatusCode

from examples.ai_secretary.local_services import openai_api
from otel_secretary.genai import GenAITelemetry, traced_ai_call
from otel_secretary.instrumentation.openai import (
    RATELIMIT_REMAINING,
    RATELIMIT_UTILIZATION,
    SecretaryOpenAIInstrumentor,
)
from tests.genai.otel_harness import Harness

MESSAGES = [{"role": "user", "content": "Plan the quarterly review"}]


@pytest.fixture(scope="module")
def fake_openai() -> Iterator[openai_api.FakeOpenAI]:
    with openai_api.start() as service:
        yield service


@pytest.fixture
def instrumented(otel: Harness) -> Iterator[Harness]:
    instrumentor = SecretaryOpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=otel.tracer_provider, meter_provider=otel.meter_provider)
    try:
        yield otel
    finally:
        instrumentor.uninstrument()
    assert not OpenAIInstrumentor().is_instrumented_by_opentelemetry


@pytest.fixture
def client(fake_openai: openai_api.FakeOpenAI) -> openai.OpenAI:
    fake_openai.clear()
    return openai.OpenAI(base_url=fake_openai.url + "/v1", api_key="sk-fake-test", max_retries=2)


def _children(otel: Harness, parent: Any) -> list[Any]:
    children = [
        s for s in otel.spans() if s.parent is not None and s.parent.span_id == parent.context.span_id
    ]
    return sorted(children, key=lambda s: s.start_time)


def test_retried_429_gives_one_logical_span_and_one_child_per_attempt(
    instrumented: Harness, client: openai.OpenAI, fake_openai: openai_api.FakeOpenAI
) -> None:
    fake_openai.fail("429x2")
    client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)

    (logical,) = instrumented.spans("chat gpt-4o-mini")
    assert logical.status.status_code is StatusCode.UNSET  # rescued by a retry: not an error
    assert error_attributes.ERROR_TYPE not in logical.attributes
    attempts = _children(instrumented, logical)
    assert [a.name for a in attempts] == ["POST /v1/chat/completions"] * 3
    assert all(a.kind is SpanKind.CLIENT for a in attempts)
    assert [a.attributes.get(http_attributes.HTTP_REQUEST_RESEND_COUNT) for a in attempts] == [None, 1, 2]
    assert [a.attributes[http_attributes.HTTP_RESPONSE_STATUS_CODE] for a in attempts] == [429, 429, 200]
    assert [a.attributes.get(error_attributes.ERROR_TYPE) for a in attempts] == ["429", "429", None]
    assert attempts[0].attributes["http.response.header.retry-after-ms"] == ("1",)
    assert attempts[2].attributes["http.response.header.x-ratelimit-remaining-requests"][0].isdigit()
    # The logical span's duration covers every attempt and the backoff between them.
    assert logical.start_time <= attempts[0].start_time and attempts[-1].end_time <= logical.end_time


def test_rate_limit_gauges_track_headers(
    instrumented: Harness, client: openai.OpenAI, fake_openai: openai_api.FakeOpenAI
) -> None:
    fake_openai.limit_requests = 100
    fake_openai.used_requests = 94
    try:
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    finally:
        fake_openai.limit_requests = 10_000
    points = {
        p.attributes["otel_secretary.ratelimit.resource"]: p for p in instrumented.points(RATELIMIT_REMAINING)
    }
    assert points["requests"].value == 5  # 100 - 95th request
    utilization = {
        p.attributes["otel_secretary.ratelimit.resource"]: p.value
        for p in instrumented.points(RATELIMIT_UTILIZATION)
    }
    assert utilization["requests"] == pytest.approx(0.95)
    assert points["requests"].attributes[GenAI.GEN_AI_PROVIDER_NAME] == "openai"


def test_exhausted_retries_mark_logical_span_with_exception_class(
    instrumented: Harness, client: openai.OpenAI, fake_openai: openai_api.FakeOpenAI
) -> None:
    fake_openai.fail("429x3")
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    (logical,) = instrumented.spans("chat gpt-4o-mini")
    assert logical.status.status_code is StatusCode.ERROR
    assert logical.attributes[error_attributes.ERROR_TYPE] == "openai.RateLimitError"
    assert len(_children(instrumented, logical)) == 3


def test_timeout_attempt_records_exception_class(instrumented: Harness, client: openai.OpenAI) -> None:
    with pytest.raises(openai.APITimeoutError):
        client.with_options(max_retries=0, timeout=0.2).chat.completions.create(
            model="gpt-4o-mini", messages=MESSAGES, extra_headers={"x-fake-fault": "slow:1"}
        )
    (logical,) = instrumented.spans("chat gpt-4o-mini")
    (attempt,) = _children(instrumented, logical)
    assert attempt.attributes[error_attributes.ERROR_TYPE].startswith("httpx2.")
    assert http_attributes.HTTP_RESPONSE_STATUS_CODE not in attempt.attributes


def test_decorator_around_instrumented_call_yields_one_inference_span(
    instrumented: Harness, client: openai.OpenAI
) -> None:
    telemetry = GenAITelemetry(instrumented.tracer_provider, instrumented.meter_provider)

    @traced_ai_call(telemetry=telemetry)
    def summarize(model: str) -> Any:
        return client.chat.completions.create(model=model, messages=MESSAGES, temperature=0.3)

    @traced_ai_call(telemetry=telemetry)
    def stream(model: str) -> Any:
        return client.chat.completions.create(
            model=model, messages=MESSAGES, stream=True, stream_options={"include_usage": True}
        )

    summarize(model="gpt-4o-mini")
    list(stream(model="gpt-4o-mini"))
    inference = instrumented.spans("chat gpt-4o-mini")
    assert len(inference) == 2
    plain, streamed = sorted(inference, key=lambda s: s.start_time)
    assert plain.instrumentation_scope.name == "otel_secretary.genai"
    assert plain.attributes[GenAI.GEN_AI_REQUEST_TEMPERATURE] == 0.3  # published by the inner instrumentation
    assert plain.attributes[GenAI.GEN_AI_USAGE_INPUT_TOKENS] > 0
    assert streamed.attributes[GenAI.GEN_AI_REQUEST_STREAM] is True
    for span in inference:
        assert [c.name for c in _children(instrumented, span)] == ["POST /v1/chat/completions"]
    durations = instrumented.scoped_points("gen_ai.client.operation.duration")
    assert {scope for scope, _point in durations} == {"otel_secretary.genai"}  # inner one suppressed
    assert sum(point.count for _scope, point in durations) == 2


def test_embeddings_responses_and_async_are_covered(instrumented: Harness, fake_openai: Any) -> None:
    client = openai.OpenAI(base_url=fake_openai.url + "/v1", api_key="sk-fake-test")
    client.embeddings.create(model="text-embedding-3-small", input="hello")
    client.responses.create(model="gpt-4o-mini", input="hello")

    async def run_async() -> None:
        async with openai.AsyncOpenAI(base_url=fake_openai.url + "/v1", api_key="sk-fake-test") as aclient:
            stream = await aclient.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True)
            async for _chunk in stream:
                pass

    asyncio.run(run_async())
    names = sorted(
        s.name
        for s in instrumented.spans()
        if s.instrumentation_scope.name != "otel_secretary.instrumentation"
    )
    assert names == ["chat gpt-4o", "chat gpt-4o-mini", "embeddings text-embedding-3-small"]
    attempts = sorted(
        s.name
        for s in instrumented.spans()
        if s.instrumentation_scope.name == "otel_secretary.instrumentation"
    )
    assert attempts == ["POST /v1/chat/completions", "POST /v1/embeddings", "POST /v1/responses"]


def test_no_double_instrumentation_when_upstream_already_on(otel: Harness, client: openai.OpenAI) -> None:
    upstream = OpenAIInstrumentor()
    upstream.instrument(tracer_provider=otel.tracer_provider, meter_provider=otel.meter_provider)
    ours = SecretaryOpenAIInstrumentor()
    try:
        ours.instrument(tracer_provider=otel.tracer_provider, meter_provider=otel.meter_provider)
        ours.instrument(tracer_provider=otel.tracer_provider, meter_provider=otel.meter_provider)  # no-op
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    finally:
        ours.uninstrument()
        assert upstream.is_instrumented_by_opentelemetry  # not ours to remove
        upstream.uninstrument()
    assert len(otel.spans("chat gpt-4o-mini")) == 1
    assert len(otel.spans("POST /v1/chat/completions")) == 1


def test_entry_point_has_its_own_name() -> None:
    (ours,) = [ep for ep in entry_points(group="opentelemetry_instrumentor") if ep.name == "secretary_openai"]
    assert ours.load() is SecretaryOpenAIInstrumentor
    assert ours.name != "openai"


def test_responses_stream_under_instrumentation(instrumented: Harness, client: openai.OpenAI) -> None:
    with client.responses.stream(model="gpt-4o-mini", input="Draft the agenda") as stream:
        for _event in stream:
            pass
        final = stream.get_final_response()
    (span,) = instrumented.spans("chat gpt-4o-mini")
    assert span.attributes[GenAI.GEN_AI_USAGE_OUTPUT_TOKENS] == final.usage.output_tokens
    assert span.attributes[GenAI.GEN_AI_REQUEST_STREAM] is True
    assert [c.name for c in _children(instrumented, span)] == ["POST /v1/responses"]


def test_generic_httpx2_instrumentation_does_not_duplicate_attempts(
    instrumented: Harness, client: openai.OpenAI, fake_openai: openai_api.FakeOpenAI
) -> None:
    from opentelemetry.instrumentation.httpx import HTTPX2ClientInstrumentor

    generic = HTTPX2ClientInstrumentor()
    generic.instrument(
        tracer_provider=instrumented.tracer_provider, meter_provider=instrumented.meter_provider
    )
    try:
        fake_openai.fail("429")
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    finally:
        generic.uninstrument()
    (logical,) = instrumented.spans("chat gpt-4o-mini")
    assert [a.name for a in _children(instrumented, logical)] == ["POST /v1/chat/completions"] * 2
    assert len(instrumented.spans()) == 3
    # traceparent still reaches the server, naming our attempt span as the parent.
    attempts = _children(instrumented, logical)
    sent = [r.headers.get("traceparent", "") for r in fake_openai.requests]
    assert [f"{a.context.span_id:016x}" in header for a, header in zip(attempts, sent, strict=True)] == [
        True,
        True,
    ]


def test_decorated_embeddings_around_instrumented_call_is_one_span(
    instrumented: Harness, client: openai.OpenAI
) -> None:
    telemetry = GenAITelemetry(instrumented.tracer_provider, instrumented.meter_provider)

    @traced_ai_call(operation="embeddings", telemetry=telemetry)
    def embed(texts: list[str], model: str) -> Any:
        return client.embeddings.create(model=model, input=texts)

    embed(["alpha beta", "gamma"], model="text-embedding-3-small")
    (span,) = instrumented.spans("embeddings text-embedding-3-small")
    assert span.instrumentation_scope.name == "otel_secretary.genai"
    assert span.attributes[GenAI.GEN_AI_USAGE_INPUT_TOKENS] == 3
    assert [c.name for c in _children(instrumented, span)] == ["POST /v1/embeddings"]
