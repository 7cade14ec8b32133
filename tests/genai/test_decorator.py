"""@traced_ai_call against the real openai client and the local OpenAI stand-in."""

from __future__ import annotations

import asyncio
import gc
import inspect
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import openai
import pytest
from opentelemetry import trace
from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as GenAI
from opentelemetry.semconv._incubating.metrics import gen_ai_metrics
from opentelemetry.semconv.attributes import error_attributes
from opentelemetry.trace import SpanKind, StatusCode

from otel_secretary.genai import COST_ATTRIBUTE, GenAITelemetry, PriceBook, traced_ai_call
from tests.support.otel_harness import Harness

MESSAGES = [{"role": "user", "content": "Summarize the budget email from alice@example.com"}]


def _only_span(otel: Harness) -> Any:
    spans = otel.spans()
    assert len(spans) == 1, [s.name for s in spans]
    return spans[0]


def test_sync_call_span_attributes_and_metrics(
    otel: Harness, telemetry: GenAITelemetry, client: openai.OpenAI
) -> None:
    @traced_ai_call(telemetry=telemetry)
    def summarize(messages: list[dict[str, str]], model: str = "gpt-4o-mini", **params: Any) -> Any:
        return client.chat.completions.create(model=model, messages=messages, **params)

    # Request parameters are read from the decorated function's own keyword arguments.
    result = summarize(MESSAGES, model="gpt-4o-mini", temperature=0.2, max_tokens=50)

    span = _only_span(otel)
    assert span.name == "chat gpt-4o-mini"
    assert span.kind is SpanKind.CLIENT
    assert span.status.status_code is StatusCode.UNSET
    attrs = span.attributes
    assert attrs[GenAI.GEN_AI_OPERATION_NAME] == "chat"
    assert attrs[GenAI.GEN_AI_PROVIDER_NAME] == "openai"
    assert attrs[GenAI.GEN_AI_REQUEST_MODEL] == "gpt-4o-mini"
    assert attrs[GenAI.GEN_AI_RESPONSE_MODEL] == "gpt-4o-mini-2024-07-18"
    assert attrs[GenAI.GEN_AI_RESPONSE_ID] == result.id
    assert attrs[GenAI.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)
    assert attrs[GenAI.GEN_AI_USAGE_INPUT_TOKENS] == result.usage.prompt_tokens
    assert attrs[GenAI.GEN_AI_USAGE_OUTPUT_TOKENS] == result.usage.completion_tokens
    assert attrs[GenAI.GEN_AI_REQUEST_TEMPERATURE] == 0.2
    assert attrs[GenAI.GEN_AI_REQUEST_MAX_TOKENS] == 50
    assert GenAI.GEN_AI_REQUEST_STREAM not in attrs
    assert error_attributes.ERROR_TYPE not in attrs
    assert GenAI.GEN_AI_SYSTEM not in attrs  # house rule: never the deprecated name
    # gpt-4o-mini: $0.15 in / $0.60 out per million tokens (genai-prices).
    expected_cost = (result.usage.prompt_tokens * 0.15 + result.usage.completion_tokens * 0.6) / 1e6
    assert attrs[COST_ATTRIBUTE] == pytest.approx(expected_cost)
    # Content is opt-in.
    assert GenAI.GEN_AI_INPUT_MESSAGES not in attrs and GenAI.GEN_AI_OUTPUT_MESSAGES not in attrs

    duration = otel.histogram(gen_ai_metrics.GEN_AI_CLIENT_OPERATION_DURATION)
    assert duration.count == 1
    assert duration.attributes[GenAI.GEN_AI_RESPONSE_MODEL] == "gpt-4o-mini-2024-07-18"
    assert error_attributes.ERROR_TYPE not in duration.attributes
    span_seconds = (span.end_time - span.start_time) / 1e9
    assert duration.sum == pytest.approx(span_seconds, abs=0.005)
    tokens_in = otel.histogram(gen_ai_metrics.GEN_AI_CLIENT_TOKEN_USAGE, gen_ai__token__type="input")
    tokens_out = otel.histogram(gen_ai_metrics.GEN_AI_CLIENT_TOKEN_USAGE, gen_ai__token__type="output")
    assert (tokens_in.sum, tokens_out.sum) == (result.usage.prompt_tokens, result.usage.completion_tokens)
    assert otel.points(gen_ai_metrics.GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK) == []


def test_dict_result_and_model_from_decorator(otel: Harness, telemetry: GenAITelemetry) -> None:
    @traced_ai_call(operation="text_completion", model="gpt-4.1-mini", telemetry=telemetry)
    def cached_answer() -> dict[str, Any]:
        return {
            "id": "cmpl-cached-1",
            "model": "gpt-4.1-mini-2025-04-14",
            "choices": [{"finish_reason": "length", "text": "..."}],
            "usage": {
                "prompt_tokens": 100,
                "completion_tokens": 20,
                "prompt_tokens_details": {"cached_tokens": 40},
            },
        }

    cached_answer()
    span = _only_span(otel)
    assert span.name == "text_completion gpt-4.1-mini"
    assert span.attributes[GenAI.GEN_AI_RESPONSE_FINISH_REASONS] == ("length",)
    assert span.attributes[GenAI.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 40
    assert span.attributes[GenAI.GEN_AI_USAGE_INPUT_TOKENS] == 100


def test_async_call(otel: Harness, telemetry: GenAITelemetry, async_client: openai.AsyncOpenAI) -> None:
    @traced_ai_call(telemetry=telemetry)
    async def summarize(model: str) -> Any:
        return await async_client.chat.completions.create(model=model, messages=MESSAGES)

    result = asyncio.run(summarize(model="gpt-4o"))
    span = _only_span(otel)
    assert span.name == "chat gpt-4o"
    assert span.attributes[GenAI.GEN_AI_USAGE_OUTPUT_TOKENS] == result.usage.completion_tokens
    assert span.attributes[GenAI.GEN_AI_RESPONSE_MODEL] == "gpt-4o-2024-08-06"


def _assert_stream_span(otel: Harness, chunks: int, with_usage: bool = True) -> Any:
    span = _only_span(otel)
    assert span.attributes[GenAI.GEN_AI_REQUEST_STREAM] is True
    ttfc = span.attributes[GenAI.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK]
    assert isinstance(ttfc, float) and 0 <= ttfc <= (span.end_time - span.start_time) / 1e9
    assert otel.histogram(gen_ai_metrics.GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK).count == 1
    per_chunk = otel.points(gen_ai_metrics.GEN_AI_CLIENT_OPERATION_TIME_PER_OUTPUT_CHUNK)
    assert sum(p.count for p in per_chunk) == chunks - 1
    if with_usage:
        assert span.attributes[GenAI.GEN_AI_USAGE_OUTPUT_TOKENS] > 0
    return span


def test_returned_stream_exhausted(otel: Harness, telemetry: GenAITelemetry, client: openai.OpenAI) -> None:
    @traced_ai_call(telemetry=telemetry)
    def stream(model: str) -> Any:
        return client.chat.completions.create(
            model=model, messages=MESSAGES, stream=True, stream_options={"include_usage": True}
        )

    chunks = list(stream(model="gpt-4o-mini"))
    assert otel.spans() and chunks[-1].usage is not None
    span = _assert_stream_span(otel, len(chunks))
    assert span.attributes[GenAI.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)
    assert span.attributes[GenAI.GEN_AI_USAGE_INPUT_TOKENS] == chunks[-1].usage.prompt_tokens


@pytest.mark.parametrize("how", ["break-with", "close", "gc"])
def test_returned_stream_abandoned_ends_span_once(
    how: str, otel: Harness, telemetry: GenAITelemetry, client: openai.OpenAI
) -> None:
    @traced_ai_call(telemetry=telemetry)
    def stream(model: str) -> Any:
        return client.chat.completions.create(model=model, messages=MESSAGES, stream=True)

    if how == "break-with":
        with stream(model="gpt-4o-mini") as chunks:
            for _chunk in chunks:
                break
    elif how == "close":
        chunks = stream(model="gpt-4o-mini")
        next(chunks)
        chunks.close()
        chunks.close()  # idempotent
    else:
        chunks = stream(model="gpt-4o-mini")
        next(chunks)
        del chunks
        gc.collect()
    span = _only_span(otel)
    assert span.status.status_code is StatusCode.UNSET
    assert span.attributes[GenAI.GEN_AI_REQUEST_STREAM] is True
    assert otel.histogram(gen_ai_metrics.GEN_AI_CLIENT_OPERATION_DURATION).count == 1


def test_returned_stream_does_not_leak_context(telemetry: GenAITelemetry, client: openai.OpenAI) -> None:
    @traced_ai_call(telemetry=telemetry)
    def stream() -> Any:
        return client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)

    before = trace.get_current_span()
    chunks = stream()
    assert trace.get_current_span() is before
    list(chunks)
    assert trace.get_current_span() is before


def _chunk(
    text: str | None, finish: str | None = None, usage: dict[str, int] | None = None
) -> dict[str, Any]:
    choices = [] if text is None else [{"index": 0, "delta": {"content": text}, "finish_reason": finish}]
    chunk: dict[str, Any] = {"id": "chatcmpl-gen-1", "model": "gpt-4o-mini-2024-07-18", "choices": choices}
    if usage is not None:
        chunk["usage"] = usage
    return chunk


def test_generator_function(otel: Harness, telemetry: GenAITelemetry) -> None:
    @traced_ai_call(model="gpt-4o-mini", telemetry=telemetry)
    def generate() -> Iterator[dict[str, Any]]:
        yield _chunk("Hel")
        yield _chunk("lo", finish="stop")
        yield _chunk(None, usage={"prompt_tokens": 5, "completion_tokens": 2})

    assert len(list(generate())) == 3
    span = _assert_stream_span(otel, 3)
    assert span.attributes[GenAI.GEN_AI_RESPONSE_ID] == "chatcmpl-gen-1"
    assert span.attributes[GenAI.GEN_AI_USAGE_INPUT_TOKENS] == 5


def test_generator_closed_early_and_gc(otel: Harness, telemetry: GenAITelemetry) -> None:
    finished: list[str] = []

    @traced_ai_call(model="gpt-4o-mini", telemetry=telemetry)
    def generate(label: str) -> Iterator[str]:
        try:
            yield from ("a", "b", "c")
        finally:
            finished.append(label)

    for _item in generate("break"):
        break
    gen = generate("close")
    next(gen)
    gen.close()
    gen = generate("gc")
    next(gen)
    del gen
    gc.collect()
    assert finished == ["break", "close", "gc"]
    assert len(otel.spans("chat gpt-4o-mini")) == 3
    assert otel.histogram(gen_ai_metrics.GEN_AI_CLIENT_OPERATION_DURATION).count == 3


def test_async_generator(otel: Harness, telemetry: GenAITelemetry, fake_openai: Any) -> None:
    @traced_ai_call(telemetry=telemetry)
    async def generate(client: openai.AsyncOpenAI, model: str) -> AsyncIterator[str]:
        stream = await client.chat.completions.create(
            model=model, messages=MESSAGES, stream=True, stream_options={"include_usage": True}
        )
        async for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                yield chunk.choices[0].delta.content

    async def consume(limit: int | None) -> list[str]:
        # One client per event loop: its connection pool belongs to the loop that created it.
        async with openai.AsyncOpenAI(base_url=fake_openai.url + "/v1", api_key="sk-fake-test") as client:
            out: list[str] = []
            agen = generate(client, model="gpt-4o-mini")
            async for text in agen:
                out.append(text)
                if limit is not None and len(out) == limit:
                    await agen.aclose()  # type: ignore[attr-defined]
                    break
            return out

    texts = asyncio.run(consume(None))
    assert "".join(texts).startswith("Summary:")
    _assert_stream_span(otel, len(texts), with_usage=False)
    otel.exporter.clear()
    assert len(asyncio.run(consume(2))) == 2
    assert len(otel.spans()) == 1


def test_error_sets_error_type_status_and_metric(
    otel: Harness, telemetry: GenAITelemetry, client: openai.OpenAI
) -> None:
    @traced_ai_call(telemetry=telemetry)
    def summarize() -> Any:
        return client.with_options(max_retries=0).chat.completions.create(
            model="gpt-4o-mini", messages=MESSAGES, extra_headers={"x-fake-fault": "500"}
        )

    with pytest.raises(openai.InternalServerError):
        summarize()
    span = _only_span(otel)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[error_attributes.ERROR_TYPE] == "openai.InternalServerError"
    assert any(e.name == "exception" for e in span.events)
    point = otel.histogram(gen_ai_metrics.GEN_AI_CLIENT_OPERATION_DURATION)
    assert point.attributes[error_attributes.ERROR_TYPE] == "openai.InternalServerError"


def test_rate_limit_rescued_by_retry_is_not_an_error(
    otel: Harness, telemetry: GenAITelemetry, client: openai.OpenAI, fake_openai: Any
) -> None:
    @traced_ai_call(telemetry=telemetry)
    def summarize() -> Any:
        return client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)

    fake_openai.fail("429x2")
    summarize()
    span = _only_span(otel)
    assert len(fake_openai.requests) == 3
    assert span.status.status_code is StatusCode.UNSET
    assert error_attributes.ERROR_TYPE not in span.attributes


def test_rate_limit_exhausted_and_timeout(
    otel: Harness, telemetry: GenAITelemetry, client: openai.OpenAI
) -> None:
    @traced_ai_call(telemetry=telemetry)
    def summarize(fault: str, timeout: float = 5.0) -> Any:
        return client.with_options(max_retries=1, timeout=timeout).chat.completions.create(
            model="gpt-4o-mini", messages=MESSAGES, extra_headers={"x-fake-fault": fault}
        )

    with pytest.raises(openai.RateLimitError):
        summarize("429x2")
    with pytest.raises(openai.APITimeoutError):
        summarize("slow:1,slow:1", timeout=0.2)
    types = sorted(s.attributes[error_attributes.ERROR_TYPE] for s in otel.spans())
    assert types == ["openai.APITimeoutError", "openai.RateLimitError"]


def test_content_captured_only_when_enabled_and_masked(
    otel: Harness, telemetry: GenAITelemetry, client: openai.OpenAI
) -> None:
    @traced_ai_call(capture_content=True, telemetry=telemetry)
    def summarize(messages: list[dict[str, str]]) -> Any:
        return client.chat.completions.create(model="gpt-4o-mini", messages=messages)

    summarize(MESSAGES)
    attrs = _only_span(otel).attributes
    inputs = json.loads(attrs[GenAI.GEN_AI_INPUT_MESSAGES])
    assert inputs[0]["role"] == "user" and inputs[0]["parts"][0]["type"] == "text"
    assert "alice@example.com" not in attrs[GenAI.GEN_AI_INPUT_MESSAGES]
    assert "<email" in inputs[0]["parts"][0]["content"]
    outputs = json.loads(attrs[GenAI.GEN_AI_OUTPUT_MESSAGES])
    assert outputs[0]["finish_reason"] == "stop" and outputs[0]["parts"][0]["content"].startswith("Summary:")


def test_content_withheld_when_no_masker(otel: Harness) -> None:
    telemetry = GenAITelemetry(
        otel.tracer_provider, otel.meter_provider, capture_content=True, mask=_no_masker
    )

    @traced_ai_call(model="gpt-4o-mini", telemetry=telemetry)
    def answer(prompt: str) -> dict[str, Any]:
        return {"choices": [{"message": {"content": "reply to bob@example.org"}, "finish_reason": "stop"}]}

    answer("write to bob@example.org")
    attrs = _only_span(otel).attributes
    assert GenAI.GEN_AI_INPUT_MESSAGES not in attrs and GenAI.GEN_AI_OUTPUT_MESSAGES not in attrs


def _no_masker(text: str) -> str:
    raise RuntimeError("masker broken")


def test_embeddings_operation(otel: Harness, telemetry: GenAITelemetry, client: openai.OpenAI) -> None:
    @traced_ai_call(operation="embeddings", telemetry=telemetry)
    def embed(texts: list[str], model: str) -> Any:
        return client.embeddings.create(model=model, input=texts, encoding_format="float")

    embed(["one two", "three"], model="text-embedding-3-small")
    span = _only_span(otel)
    assert span.name == "embeddings text-embedding-3-small"
    assert span.attributes[GenAI.GEN_AI_USAGE_INPUT_TOKENS] == 3
    assert span.attributes[GenAI.GEN_AI_EMBEDDINGS_DIMENSION_COUNT] == 8
    assert otel.histogram(gen_ai_metrics.GEN_AI_CLIENT_TOKEN_USAGE, gen_ai__token__type="input").sum == 3


def test_internal_failure_never_breaks_the_call(otel: Harness) -> None:
    class BrokenPrices(PriceBook):
        def estimate(self, *args: Any, **kwargs: Any) -> float | None:
            raise RuntimeError("price book exploded")

    telemetry = GenAITelemetry(otel.tracer_provider, otel.meter_provider, prices=BrokenPrices())

    @traced_ai_call(model="gpt-4o-mini", telemetry=telemetry)
    def answer() -> dict[str, Any]:
        return {"usage": {"prompt_tokens": 1, "completion_tokens": 1}}

    assert answer() == {"usage": {"prompt_tokens": 1, "completion_tokens": 1}}
    span = _only_span(otel)
    assert span.end_time is not None and COST_ATTRIBUTE not in span.attributes


class _NotCallable:
    pass


@pytest.mark.parametrize(
    "apply",
    [
        pytest.param(lambda: traced_ai_call()(_NotCallable()), id="instance"),
        pytest.param(lambda: traced_ai_call()(42), id="int"),
        pytest.param(lambda: traced_ai_call(lambda: None), id="missing-parentheses"),
        pytest.param(lambda: traced_ai_call()(staticmethod(lambda: None)), id="above-staticmethod"),
        pytest.param(lambda: traced_ai_call(provider=""), id="empty-provider"),
    ],
)
def test_misuse_fails_at_decoration_time(apply: Any) -> None:
    with pytest.raises(TypeError, match="traced_ai_call"):
        apply()


def test_wraps_keeps_function_identity(telemetry: GenAITelemetry) -> None:
    @traced_ai_call(telemetry=telemetry)
    async def summarize_email(text: str) -> str:
        """Docstring kept."""
        return text

    assert summarize_email.__name__ == "summarize_email"
    assert summarize_email.__doc__ == "Docstring kept."
    assert inspect.iscoroutinefunction(summarize_email)


def test_responses_api_stream_reads_usage_from_completed_event(
    otel: Harness, telemetry: GenAITelemetry, client: openai.OpenAI
) -> None:
    @traced_ai_call(telemetry=telemetry)
    def respond(model: str) -> Any:
        return client.responses.create(model=model, input="Draft the agenda", stream=True)

    events = list(respond(model="gpt-4o-mini"))
    assert events[-1].type == "response.completed"
    span = _only_span(otel)
    assert span.attributes[GenAI.GEN_AI_RESPONSE_ID] == events[-1].response.id
    assert span.attributes[GenAI.GEN_AI_USAGE_OUTPUT_TOKENS] == events[-1].response.usage.output_tokens
    assert span.attributes[GenAI.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)
    assert span.attributes[GenAI.GEN_AI_REQUEST_STREAM] is True


def test_async_function_returning_stream(otel: Harness, telemetry: GenAITelemetry, fake_openai: Any) -> None:
    @traced_ai_call(telemetry=telemetry)
    async def stream(client: openai.AsyncOpenAI, model: str) -> Any:
        return await client.chat.completions.create(
            model=model, messages=MESSAGES, stream=True, stream_options={"include_usage": True}
        )

    async def run(early: bool) -> int:
        async with openai.AsyncOpenAI(base_url=fake_openai.url + "/v1", api_key="sk-fake-test") as client:
            chunks = await stream(client, model="gpt-4o-mini")
            count = 0
            async for _chunk in chunks:
                count += 1
                if early:
                    await chunks.aclose()
                    break
            return count

    total = asyncio.run(run(early=False))
    span = _assert_stream_span(otel, total)
    assert span.attributes[GenAI.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)
    otel.exporter.clear()
    assert asyncio.run(run(early=True)) == 1
    assert len(otel.spans()) == 1
