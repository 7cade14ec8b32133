"""SecretaryOpenAIInstrumentor: genai-openai spans, attempt spans of retried calls, rate-limit gauges."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from importlib.metadata import entry_points
from typing import Any

import openai
import pytest
from opentelemetry.instrumentation.genai.openai import OpenAIInstrumentor
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]
from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as GenAI
from opentelemetry.semconv.attributes import error_attributes, http_attributes
from opentelemetry.trace import SpanKind, StatusCode

from otel_secretary.genai import GenAITelemetry, traced_ai_call
from otel_secretary.instrumentation.openai import (
    RATELIMIT_REMAINING,
    RATELIMIT_UTILIZATION,
    SecretaryOpenAIInstrumentor,
)
from otel_secretary.testing.local_services import openai_api
from tests.support.otel_harness import Harness

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


def test_timeout_attempts_record_exception_class(
    instrumented: Harness, client: openai.OpenAI, fake_openai: openai_api.FakeOpenAI
) -> None:
    fake_openai.fail("slow:1,slow:1")
    with pytest.raises(openai.APITimeoutError):
        client.with_options(max_retries=1, timeout=0.2).chat.completions.create(
            model="gpt-4o-mini", messages=MESSAGES
        )
    (logical,) = instrumented.spans("chat gpt-4o-mini")
    attempts = _children(instrumented, logical)
    assert len(attempts) == 2
    for attempt in attempts:
        assert attempt.attributes[error_attributes.ERROR_TYPE].startswith("httpx2.")
        assert http_attributes.HTTP_RESPONSE_STATUS_CODE not in attempt.attributes
        assert attempt.status.status_code is StatusCode.ERROR


def test_single_timeout_without_retry_is_one_span(instrumented: Harness, client: openai.OpenAI) -> None:
    with pytest.raises(openai.APITimeoutError):
        client.with_options(max_retries=0, timeout=0.2).chat.completions.create(
            model="gpt-4o-mini", messages=MESSAGES, extra_headers={"x-fake-fault": "slow:1"}
        )
    (logical,) = instrumented.spans("chat gpt-4o-mini")
    assert logical.attributes[error_attributes.ERROR_TYPE] == "openai.APITimeoutError"
    assert _children(instrumented, logical) == []
    (point,) = instrumented.points("http.client.request.duration")
    assert point.attributes[error_attributes.ERROR_TYPE].startswith("httpx2.")


def test_call_that_succeeds_first_time_is_one_span_with_attempt_metric(
    instrumented: Harness, client: openai.OpenAI, fake_openai: openai_api.FakeOpenAI
) -> None:
    client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    (only,) = instrumented.spans()
    assert only.name == "chat gpt-4o-mini"
    (point,) = instrumented.points("http.client.request.duration")
    assert point.count == 1
    assert point.attributes[http_attributes.HTTP_RESPONSE_STATUS_CODE] == 200
    # The server still gets the trace context: the chat span is the parent it sees.
    (request,) = fake_openai.requests
    assert f"{only.context.span_id:016x}" in request.headers.get("traceparent", "")


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
        assert _children(instrumented, span) == []  # one span per call: no retry, no attempt span
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
    # No retries, so no attempt spans; every attempt is still measured.
    assert not [
        s for s in instrumented.spans() if s.instrumentation_scope.name == "otel_secretary.instrumentation"
    ]
    assert sum(p.count for p in instrumented.points("http.client.request.duration")) == 3


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
    (span,) = otel.spans("chat gpt-4o-mini")
    assert len(otel.spans()) == 1
    # Taken over with our completion hook, so the upstream-started span still gets our cost.
    assert span.attributes["app.genai.cost_usd"] > 0


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
    assert _children(instrumented, span) == []


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
    # traceparent still reaches the server: the first attempt went out before anyone knew it would be
    # retried, so it names the chat span; the retry names its own attempt span.
    attempts = _children(instrumented, logical)
    sent = [r.headers.get("traceparent", "") for r in fake_openai.requests]
    assert f"{logical.context.span_id:016x}" in sent[0]
    assert f"{attempts[1].context.span_id:016x}" in sent[1]


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
    assert _children(instrumented, span) == []


# -- issue 11 item 4: the auto-instrumented path gets what the decorator path gets --------------------


def _instrument_with(otel: Harness, telemetry: GenAITelemetry | None = None) -> SecretaryOpenAIInstrumentor:
    instrumentor = SecretaryOpenAIInstrumentor()
    extra: dict[str, Any] = {"genai_telemetry": telemetry} if telemetry is not None else {}
    instrumentor.instrument(tracer_provider=otel.tracer_provider, meter_provider=otel.meter_provider, **extra)
    return instrumentor


def test_auto_path_records_cost_with_cached_and_reasoning_prices(
    otel: Harness, client: openai.OpenAI
) -> None:
    from otel_secretary import request_context
    from otel_secretary.genai import COST_ATTRIBUTE, COST_METRIC, PriceBook, Usage

    instrumentor = _instrument_with(otel)
    try:
        with request_context(tenant_id="t-auto"):
            client.chat.completions.create(
                model="gpt-4o-mini",
                messages=MESSAGES,
                extra_headers={"x-fake-cached-tokens": "1000", "x-fake-reasoning-tokens": "40"},
            )
    finally:
        instrumentor.uninstrument()
    (span,) = otel.spans("chat gpt-4o-mini")
    attributes = span.attributes
    assert attributes[GenAI.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 1000
    assert attributes[GenAI.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] == 40
    usage = Usage(
        input_tokens=attributes[GenAI.GEN_AI_USAGE_INPUT_TOKENS],
        output_tokens=attributes[GenAI.GEN_AI_USAGE_OUTPUT_TOKENS],
        cache_read_tokens=1000,
        reasoning_tokens=40,
    )
    expected = PriceBook().estimate("openai", "gpt-4o-mini-2024-07-18", usage)
    assert expected is not None
    assert attributes[COST_ATTRIBUTE] == pytest.approx(expected)
    # Cached input is cheaper: the same token count uncached would cost more.
    uncached = PriceBook().estimate("openai", "gpt-4o-mini", Usage(usage.input_tokens, usage.output_tokens))
    assert uncached is not None and expected < uncached
    (point,) = otel.points(COST_METRIC)
    assert point.value == pytest.approx(expected)
    assert point.attributes["app.tenant.id"] == "t-auto"
    assert point.attributes[GenAI.GEN_AI_REQUEST_MODEL] == "gpt-4o-mini"


def test_auto_path_content_follows_our_switch_and_is_masked(otel: Harness, client: openai.OpenAI) -> None:
    secret = [{"role": "user", "content": "Reply to ada.lovelace@example.com about the offsite"}]
    instrumentor = _instrument_with(otel, GenAITelemetry(otel.tracer_provider, otel.meter_provider))
    try:
        client.chat.completions.create(model="gpt-4o-mini", messages=secret)
    finally:
        instrumentor.uninstrument()
    capturing = GenAITelemetry(otel.tracer_provider, otel.meter_provider, capture_content=True)
    instrumentor = _instrument_with(otel, capturing)
    try:
        client.chat.completions.create(model="gpt-4o", messages=secret)
    finally:
        instrumentor.uninstrument()
    (off,) = otel.spans("chat gpt-4o-mini")
    (on,) = otel.spans("chat gpt-4o")
    assert GenAI.GEN_AI_INPUT_MESSAGES not in off.attributes
    assert GenAI.GEN_AI_OUTPUT_MESSAGES not in off.attributes
    captured = on.attributes[GenAI.GEN_AI_INPUT_MESSAGES]
    assert "ada.lovelace@example.com" not in captured
    assert "<email>" in captured and "offsite" in captured
    assert "Summary:" in on.attributes[GenAI.GEN_AI_OUTPUT_MESSAGES]


class _OpenAIV2StandIn(BaseInstrumentor):  # type: ignore[misc]
    """Shaped like openai-v2's OpenAIInstrumentor: wraps Completions.create with its own chat span.

    The real package cannot run on this OpenTelemetry train (2.4b0 imports a module util-genai 1.3
    no longer has; 2.3b0 calls wrapt 1's keyword API and raises under wrapt 2), so a working one, or
    a fixed release, is stood in for; what matters is the singleton/flag protocol ours relies on.
    """

    tracer_provider: Any = None

    def instrumentation_dependencies(self) -> tuple[str, ...]:
        return ("openai >= 1.26.0",)

    def _instrument(self, **kwargs: Any) -> None:
        from opentelemetry.trace import get_tracer
        from wrapt import wrap_function_wrapper

        tracer = get_tracer(
            "opentelemetry.instrumentation.openai_v2", tracer_provider=kwargs["tracer_provider"]
        )

        def create(wrapped: Any, instance: Any, args: Any, kw: Any) -> Any:
            with tracer.start_as_current_span(f"chat {kw.get('model')}", kind=SpanKind.CLIENT):
                return wrapped(*args, **kw)

        wrap_function_wrapper("openai.resources.chat.completions", "Completions.create", create)

    def _uninstrument(self, **kwargs: Any) -> None:
        from opentelemetry.instrumentation.utils import unwrap

        unwrap(openai.resources.chat.completions.Completions, "create")


@pytest.fixture
def openai_v2_module(monkeypatch: pytest.MonkeyPatch) -> Any:
    import sys
    import types

    module = types.ModuleType("opentelemetry.instrumentation.openai_v2")
    module.OpenAIInstrumentor = _OpenAIV2StandIn  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "opentelemetry.instrumentation.openai_v2", module)
    return module


def test_openai_v2_installed_too_gives_no_duplicate_spans(
    otel: Harness, client: openai.OpenAI, openai_v2_module: Any
) -> None:
    """`opentelemetry-bootstrap -a install` can add the deprecated openai-v2 beside genai-openai."""
    legacy = openai_v2_module.OpenAIInstrumentor()
    providers = {"tracer_provider": otel.tracer_provider, "meter_provider": otel.meter_provider}
    # Control: alone, openai-v2 traces the call, so both on would double the GenAI spans.
    legacy.instrument(**providers)
    try:
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    finally:
        legacy.uninstrument()
    (alone,) = otel.spans("chat gpt-4o")
    assert alone.instrumentation_scope.name == "opentelemetry.instrumentation.openai_v2"

    # openai-v2's entry point loads first: ours turns it off.
    legacy.instrument(**providers)
    ours = _instrument_with(otel)
    try:
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    finally:
        ours.uninstrument()
    # Ours loads first: openai-v2's instrument() becomes a no-op.
    ours = _instrument_with(otel)
    try:
        legacy.instrument(**providers)
        client.chat.completions.create(model="gpt-4.1-mini", messages=MESSAGES)
    finally:
        ours.uninstrument()
    assert not legacy.is_instrumented_by_opentelemetry  # released: a user may turn it on again
    for model in ("gpt-4o-mini", "gpt-4.1-mini"):
        (span,) = otel.spans(f"chat {model}")
        assert span.instrumentation_scope.name == "opentelemetry.instrumentation.genai.openai"
    assert len(otel.spans()) == 3


def test_auto_path_embeddings_get_cost_once(otel: Harness, client: openai.OpenAI) -> None:
    from otel_secretary.genai import COST_ATTRIBUTE, COST_METRIC, PriceBook, Usage

    telemetry = GenAITelemetry(otel.tracer_provider, otel.meter_provider)
    instrumentor = _instrument_with(otel, telemetry)

    @traced_ai_call(operation="embeddings", telemetry=telemetry)
    def embed(model: str) -> Any:
        return client.embeddings.create(model=model, input=["alpha beta", "gamma"])

    try:
        client.embeddings.create(model="text-embedding-3-small", input="alpha beta gamma delta")
        embed(model="text-embedding-3-small")  # decorated: priced by the decorator, not twice
    finally:
        instrumentor.uninstrument()
    auto, decorated = sorted(otel.spans("embeddings text-embedding-3-small"), key=lambda s: s.start_time or 0)
    assert auto.instrumentation_scope.name == "opentelemetry.instrumentation.genai.openai"
    expected = PriceBook().estimate(
        "openai", "text-embedding-3-small", Usage(input_tokens=4, output_tokens=None)
    )
    assert expected is not None and auto.attributes[COST_ATTRIBUTE] == pytest.approx(expected)
    assert decorated.instrumentation_scope.name == "otel_secretary.genai"
    (point,) = otel.points(COST_METRIC)
    assert point.value == pytest.approx(expected + decorated.attributes[COST_ATTRIBUTE])


def test_auto_path_responses_conversation_and_tool_calls(otel: Harness, client: openai.OpenAI) -> None:
    from otel_secretary.genai import TOOL_CALL_IDS, TOOL_CALL_NAMES

    tool = {
        "type": "function",
        "name": "lookup_subscription",
        "parameters": {"type": "object", "properties": {"email": {"type": "string"}}},
    }
    instrumentor = _instrument_with(otel)
    try:
        answer = client.responses.create(
            model="gpt-4o-mini", input="Look up erin@example.com", tools=[tool], conversation="conv_auto_1"
        )
        with client.responses.stream(
            model="gpt-4o", input="Look up erin@example.com", tools=[tool]
        ) as stream:
            for _event in stream:
                pass
            streamed = stream.get_final_response()
    finally:
        instrumentor.uninstrument()
    (span,) = otel.spans("chat gpt-4o-mini")
    assert span.attributes[GenAI.GEN_AI_CONVERSATION_ID] == "conv_auto_1"
    assert list(span.attributes[TOOL_CALL_NAMES]) == ["lookup_subscription"]
    assert list(span.attributes[TOOL_CALL_IDS]) == [answer.output[0].call_id]
    (streamed_span,) = otel.spans("chat gpt-4o")
    assert list(streamed_span.attributes[TOOL_CALL_IDS]) == [streamed.output[0].call_id]
