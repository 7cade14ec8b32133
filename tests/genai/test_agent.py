"""The assistant as an agent (issue 13): the real ``openai`` client against the local stand-in.

A workflow runs an agent turn: the model asks for two tools, both run under ``@traced_tool`` (one of
them makes its own outbound span), and a second call gives the final answer. Checked on the decorator
path (``@traced_ai_call``) and on the auto-instrumented path (our OpenAI instrumentor, no decorator):
span names, kinds, parents, the tool call ids shared by the chat span and the tool spans, tokens
(cached, reasoning) and cost, conversation id, streaming with tool-call deltas, and a tool that raises.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import openai
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as GenAI
from opentelemetry.semconv.attributes import error_attributes
from opentelemetry.trace import SpanKind, StatusCode

from otel_secretary import request_context
from otel_secretary.genai import (
    COST_ATTRIBUTE,
    COST_METRIC,
    TOOL_CALL_IDS,
    TOOL_CALL_NAMES,
    GenAITelemetry,
    PriceBook,
    Usage,
    dispatch_tool_calls,
    traced_agent,
    traced_ai_call,
    traced_tool,
)
from otel_secretary.instrumentation.openai import SecretaryOpenAIInstrumentor
from tests.support.otel_harness import Harness

from .agent_app import INBOUND, MODEL, TOOLS, Agent


@pytest.fixture(params=["decorator", "auto"])
def path(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def agent_for(otel: Harness, client: openai.OpenAI, path: str) -> Iterator[Callable[[GenAITelemetry], Agent]]:
    instrumentors: list[SecretaryOpenAIInstrumentor] = []

    def build(telemetry: GenAITelemetry) -> Agent:
        if path == "auto":
            instrumentor = SecretaryOpenAIInstrumentor()
            instrumentor.instrument(
                tracer_provider=otel.tracer_provider,
                meter_provider=otel.meter_provider,
                genai_telemetry=telemetry,
            )
            instrumentors.append(instrumentor)
        return Agent(client, telemetry, path == "decorator", otel)

    yield build
    for instrumentor in instrumentors:
        instrumentor.uninstrument()


def _one(otel: Harness, name: str) -> ReadableSpan:
    (span,) = otel.spans(name)
    return span


def _parent(span: ReadableSpan) -> int:
    assert span.parent is not None, span.name
    return span.parent.span_id


def _chats(otel: Harness) -> list[ReadableSpan]:
    return sorted(otel.spans(f"chat {MODEL}"), key=lambda s: s.start_time or 0)


def _check_agent_trace(otel: Harness) -> None:
    workflow = _one(otel, "invoke_workflow triage_inbound")
    agent = _one(otel, "invoke_agent secretary")
    lookup = _one(otel, "execute_tool lookup_subscription")
    create = _one(otel, "execute_tool create_calendar_event")
    first, final = _chats(otel)
    assert workflow.kind is agent.kind is lookup.kind is create.kind is SpanKind.INTERNAL
    assert first.kind is final.kind is SpanKind.CLIENT
    assert workflow.parent is None
    assert _parent(agent) == workflow.context.span_id
    for span in (first, final, lookup, create):
        assert _parent(span) == agent.context.span_id, span.name
    assert _parent(_one(otel, "stripe GET /v1/subscriptions")) == lookup.context.span_id
    assert _parent(_one(otel, "calendar.events.insert")) == create.context.span_id
    # The chat span names the calls it requested; each tool span carries its call's id.
    assert list(first.attributes[TOOL_CALL_NAMES]) == ["lookup_subscription", "create_calendar_event"]
    ids = list(first.attributes[TOOL_CALL_IDS])
    assert len(set(ids)) == 2 and all(ids)
    assert [lookup.attributes[GenAI.GEN_AI_TOOL_CALL_ID], create.attributes[GenAI.GEN_AI_TOOL_CALL_ID]] == ids
    assert first.attributes[GenAI.GEN_AI_RESPONSE_FINISH_REASONS] == ("tool_calls",)
    assert TOOL_CALL_IDS not in final.attributes
    for tool in (lookup, create):
        assert tool.attributes[GenAI.GEN_AI_OPERATION_NAME] == "execute_tool"
        assert tool.attributes[GenAI.GEN_AI_TOOL_TYPE] == "function"
        assert tool.attributes[GenAI.GEN_AI_AGENT_NAME] == "secretary"
        assert tool.attributes[GenAI.GEN_AI_TOOL_DESCRIPTION]
        assert GenAI.GEN_AI_TOOL_CALL_ARGUMENTS not in tool.attributes  # content capture is off
        assert GenAI.GEN_AI_TOOL_CALL_RESULT not in tool.attributes
        assert GenAI.GEN_AI_OUTPUT_MESSAGES not in first.attributes


def _check_tokens_and_cost(otel: Harness, chat: ReadableSpan) -> float:
    attributes = chat.attributes
    assert attributes[GenAI.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 1000
    assert attributes[GenAI.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] == 40
    usage = Usage(
        input_tokens=attributes[GenAI.GEN_AI_USAGE_INPUT_TOKENS],
        output_tokens=attributes[GenAI.GEN_AI_USAGE_OUTPUT_TOKENS],
        cache_read_tokens=1000,
        reasoning_tokens=40,
    )
    expected = PriceBook().estimate("openai", str(attributes[GenAI.GEN_AI_RESPONSE_MODEL]), usage)
    assert expected is not None
    assert attributes[COST_ATTRIBUTE] == pytest.approx(expected)
    return expected


def test_two_tools_then_a_final_answer(otel: Harness, agent_for: Callable[[GenAITelemetry], Agent]) -> None:
    telemetry = GenAITelemetry(otel.tracer_provider, otel.meter_provider)
    with request_context(tenant_id="t-agent", conversation_id="conv-renewal-42"):
        answer = agent_for(telemetry).run(INBOUND)
    assert answer.startswith("Done:")
    _check_agent_trace(otel)
    costs = [_check_tokens_and_cost(otel, chat) for chat in _chats(otel)]
    for name in ("invoke_workflow triage_inbound", "invoke_agent secretary", f"chat {MODEL}"):
        for span in otel.spans(name):
            assert span.attributes[GenAI.GEN_AI_CONVERSATION_ID] == "conv-renewal-42", name
    (point,) = otel.points(COST_METRIC)
    assert point.value == pytest.approx(sum(costs))
    assert point.attributes["app.tenant.id"] == "t-agent"
    tool_points = otel.points("gen_ai.execute_tool.duration")
    assert sorted(p.attributes[GenAI.GEN_AI_TOOL_NAME] for p in tool_points) == [
        "create_calendar_event",
        "lookup_subscription",
    ]
    assert [p.count for p in otel.points("gen_ai.invoke_agent.duration")] == [1]
    assert [p.count for p in otel.points("gen_ai.invoke_workflow.duration")] == [1]


def test_streaming_with_tool_call_deltas(otel: Harness, agent_for: Callable[[GenAITelemetry], Agent]) -> None:
    telemetry = GenAITelemetry(otel.tracer_provider, otel.meter_provider)
    answer = agent_for(telemetry).run(INBOUND, stream=True)
    assert answer.startswith("Done:")
    _check_agent_trace(otel)
    first, _final = _chats(otel)
    assert first.attributes[GenAI.GEN_AI_REQUEST_STREAM] is True
    _check_tokens_and_cost(otel, first)


def test_a_tool_that_raises(otel: Harness, agent_for: Callable[[GenAITelemetry], Agent]) -> None:
    telemetry = GenAITelemetry(otel.tracer_provider, otel.meter_provider)
    agent = agent_for(telemetry)

    @traced_tool(name="lookup_subscription", telemetry=telemetry)
    def broken_lookup(email: str) -> Any:
        raise ConnectionError("stripe unreachable")

    agent.tools["lookup_subscription"] = broken_lookup
    assert agent.run(INBOUND).startswith("Done:")  # the model got an error result and went on
    failed = _one(otel, "execute_tool lookup_subscription")
    assert failed.status.status_code is StatusCode.ERROR
    assert failed.attributes[error_attributes.ERROR_TYPE] == "ConnectionError"
    assert failed.attributes["app.error.category"]
    assert any(event.name == "exception" for event in failed.events)
    assert _one(otel, "execute_tool create_calendar_event").status.status_code is StatusCode.UNSET
    (errors,) = [
        p
        for p in otel.points("gen_ai.execute_tool.duration")
        if p.attributes.get(error_attributes.ERROR_TYPE)
    ]
    assert errors.attributes[GenAI.GEN_AI_TOOL_NAME] == "lookup_subscription"


def test_content_capture_masks_tool_arguments_results_and_requested_calls(
    otel: Harness, agent_for: Callable[[GenAITelemetry], Agent]
) -> None:
    telemetry = GenAITelemetry(otel.tracer_provider, otel.meter_provider, capture_content=True)
    agent_for(telemetry).run(INBOUND)
    lookup = _one(otel, "execute_tool lookup_subscription")
    arguments = json.loads(str(lookup.attributes[GenAI.GEN_AI_TOOL_CALL_ARGUMENTS]))
    assert arguments == {"email": "<email>"}
    result = json.loads(str(lookup.attributes[GenAI.GEN_AI_TOOL_CALL_RESULT]))
    assert result == {"plan": "pro", "status": "active", "email": "<email>"}
    first, final = _chats(otel)
    (output,) = json.loads(str(first.attributes[GenAI.GEN_AI_OUTPUT_MESSAGES]))
    calls = [part for part in output["parts"] if part["type"] == "tool_call"]
    assert [c["name"] for c in calls] == ["lookup_subscription", "create_calendar_event"]
    assert calls[0]["arguments"] == {"email": "<email>"}
    assert "erin@example.com" not in str(final.attributes)
    assert "erin@example.com" not in str(lookup.attributes)
    inputs = json.loads(str(final.attributes[GenAI.GEN_AI_INPUT_MESSAGES]))
    responses = [p for m in inputs for p in m["parts"] if p["type"] == "tool_call_response"]
    assert {r["id"] for r in responses} == set(first.attributes[TOOL_CALL_IDS])


def test_async_tools_agent_and_dispatch(otel: Harness, async_client: openai.AsyncOpenAI) -> None:
    import asyncio

    from otel_secretary.genai import adispatch_tool_calls

    telemetry = GenAITelemetry(otel.tracer_provider, otel.meter_provider)

    @traced_tool(telemetry=telemetry)
    async def lookup_subscription(email: str) -> dict[str, str]:
        await asyncio.sleep(0)
        return {"plan": "pro"}

    @traced_tool(telemetry=telemetry)
    def create_calendar_event(title: str, start: str) -> str:
        return "evt_1"

    @traced_agent("secretary", telemetry=telemetry)
    async def turn() -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = [{"role": "user", "content": INBOUND}]
        response = await traced_ai_call(model=MODEL, telemetry=telemetry)(
            async_client.chat.completions.create
        )(model=MODEL, messages=messages, tools=TOOLS)
        calls = response.choices[0].message.tool_calls
        tools = {"lookup_subscription": lookup_subscription, "create_calendar_event": create_calendar_event}
        return await adispatch_tool_calls(calls, tools)

    results = asyncio.run(turn())
    assert json.loads(results[0]["content"]) == {"plan": "pro"}
    assert results[1]["content"] == "evt_1"
    agent = _one(otel, "invoke_agent secretary")
    (chat,) = _chats(otel)
    tools = [_one(otel, "execute_tool lookup_subscription"), _one(otel, "execute_tool create_calendar_event")]
    assert all(_parent(span) == agent.context.span_id for span in (chat, *tools))
    assert [t.attributes[GenAI.GEN_AI_TOOL_CALL_ID] for t in tools] == list(chat.attributes[TOOL_CALL_IDS])
    assert [r["tool_call_id"] for r in results] == list(chat.attributes[TOOL_CALL_IDS])


def test_dispatch_answers_unknown_tools_and_bad_arguments_without_raising() -> None:
    calls = [
        {"id": "call_1", "type": "function", "function": {"name": "nope", "arguments": "{}"}},
        {"id": "call_2", "type": "function", "function": {"name": "echo", "arguments": "{not json"}},
        {"type": "function_call", "call_id": "call_3", "name": "echo", "arguments": '{"text": "hi"}'},
    ]
    results = dispatch_tool_calls(calls, {"echo": lambda text: text})
    assert [r["tool_call_id"] for r in results] == ["call_1", "call_2", "call_3"]
    assert "unknown tool" in results[0]["content"] and "invalid arguments" in results[1]["content"]
    assert results[2]["content"] == "hi"
    with pytest.raises(ValueError):
        dispatch_tool_calls(calls[1:2], {"echo": lambda text: text}, raise_errors=True)
