"""Tokens and cost beyond the basics: reasoning and cache-write prices, the Responses API's tool calls
and conversation on the decorator path, and a Responses stream with function-call argument deltas."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import openai
import pytest
from genai_prices import Usage as PricesUsage
from genai_prices import data_snapshot
from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as GenAI

from otel_secretary.genai import (
    COST_ATTRIBUTE,
    TOOL_CALL_IDS,
    TOOL_CALL_NAMES,
    GenAITelemetry,
    PriceBook,
    Rates,
    Usage,
    traced_ai_call,
)
from tests.support.otel_harness import Harness

TOOL = {
    "type": "function",
    "name": "lookup_subscription",
    "description": "Find the customer's subscription by e-mail.",
    "parameters": {"type": "object", "properties": {"email": {"type": "string"}}},
}


def test_reasoning_tokens_priced_at_their_own_rate_when_listed() -> None:
    rates = Rates(input=2.0, output=8.0, reasoning=3.0)
    usage = Usage(input_tokens=1_000_000, output_tokens=1_000_000, reasoning_tokens=400_000)
    # 1M input at $2, 600k visible output at $8, 400k reasoning at $3.
    assert rates.cost(usage) == pytest.approx(2.0 + 4.8 + 1.2)
    assert Rates(input=2.0, output=8.0).cost(usage) == pytest.approx(10.0)  # no reasoning price: output's


def test_library_reasoning_price_matches_genai_prices() -> None:
    """perplexity's sonar-deep-research lists output_reasoning_mtok in genai-prices."""
    usage = Usage(input_tokens=2000, output_tokens=5000, reasoning_tokens=3000)
    _provider, info = data_snapshot.get_snapshot().find_provider_model(
        "sonar-deep-research", None, "perplexity", None
    )
    assert info.prices.output_reasoning_mtok == Decimal("3")
    expected = info.prices.calc_price(
        PricesUsage(input_tokens=2000, output_tokens=5000, output_reasoning_tokens=3000)
    )
    ours = PriceBook().estimate("perplexity", "sonar-deep-research", usage)
    assert ours == pytest.approx(float(expected["total_price"]))


def test_cache_write_tokens_and_price_from_override_file(tmp_path: Path, otel: Harness) -> None:
    prices = tmp_path / "prices.json"
    prices.write_text(json.dumps({"models": {"house-model": {"input": 1, "output": 2, "cache_write": 1.25}}}))
    telemetry = GenAITelemetry(otel.tracer_provider, otel.meter_provider, prices=PriceBook.from_file(prices))

    @traced_ai_call(model="house-model", provider="anthropic", telemetry=telemetry)
    def call() -> dict[str, Any]:
        usage = {
            "input_tokens": 1000,
            "output_tokens": 10,
            "input_tokens_details": {"cache_write_tokens": 800},
        }
        return {"id": "msg_1", "model": "house-model", "usage": usage}

    call()
    (span,) = otel.spans()
    assert span.attributes[GenAI.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS] == 800
    assert span.attributes[COST_ATTRIBUTE] == pytest.approx((200 * 1 + 800 * 1.25 + 10 * 2) / 1e6)


def test_responses_api_tool_calls_and_conversation_on_the_decorator_path(
    otel: Harness, telemetry: GenAITelemetry, client: openai.OpenAI
) -> None:
    @traced_ai_call(telemetry=telemetry)
    def respond(model: str, **kwargs: Any) -> Any:
        return client.responses.create(model=model, input="Look up erin@example.com", tools=[TOOL], **kwargs)

    answer = respond(model="gpt-4o-mini", conversation="conv_resp_1")
    (span,) = otel.spans("chat gpt-4o-mini")
    assert span.attributes[GenAI.GEN_AI_CONVERSATION_ID] == "conv_resp_1"
    assert list(span.attributes[TOOL_CALL_NAMES]) == ["lookup_subscription"]
    assert list(span.attributes[TOOL_CALL_IDS]) == [answer.output[0].call_id]


def test_responses_stream_assembles_function_call_argument_deltas(
    otel: Harness, client: openai.OpenAI
) -> None:
    telemetry = GenAITelemetry(otel.tracer_provider, otel.meter_provider, capture_content=True)

    @traced_ai_call(telemetry=telemetry)
    def respond(model: str) -> Any:
        return client.responses.create(
            model=model, input="Look up erin@example.com", tools=[TOOL], stream=True
        )

    events = list(respond(model="gpt-4o"))
    assert any(e.type == "response.function_call_arguments.delta" for e in events)
    (span,) = otel.spans("chat gpt-4o")
    assert list(span.attributes[TOOL_CALL_NAMES]) == ["lookup_subscription"]
    (output,) = json.loads(str(span.attributes[GenAI.GEN_AI_OUTPUT_MESSAGES]))
    (call,) = output["parts"]
    assert call["type"] == "tool_call" and call["arguments"] == {"email": "<email>"}
