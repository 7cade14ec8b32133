"""A small agent, shaped like the example's: chat with the real ``openai`` client until the model stops
asking for tools, each tool under ``@traced_tool``. The agent tests and the semantic-convention tests
drive the same one, so it lives here rather than in either test module.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import openai
from opentelemetry.trace import SpanKind, get_tracer

from otel_secretary.genai import (
    GenAITelemetry,
    dispatch_tool_calls,
    traced_agent,
    traced_ai_call,
    traced_tool,
    traced_workflow,
)
from tests.support.otel_harness import Harness

MODEL = "gpt-4o-mini"
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "lookup_subscription",
            "description": "Find the customer's Stripe subscription by e-mail.",
            "parameters": {"type": "object", "properties": {"email": {"type": "string"}}},
        },
    },
    {
        "type": "function",
        "function": {
            "name": "create_calendar_event",
            "description": "Create a meeting on the user's calendar.",
            "parameters": {
                "type": "object",
                "properties": {
                    "title": {"type": "string"},
                    "start": {"type": "string", "format": "date-time"},
                },
            },
        },
    },
]
INBOUND = "Please book a renewal call with erin@example.com next week"
USAGE_HEADERS = {"x-fake-cached-tokens": "1000", "x-fake-reasoning-tokens": "40"}


class Agent:
    """The example's shape, small: chat until the model stops asking for tools."""

    def __init__(
        self, client: openai.OpenAI, telemetry: GenAITelemetry, decorated: bool, otel: Harness
    ) -> None:
        self.client = client
        self.telemetry = telemetry
        tracer = get_tracer("tests.outbound", tracer_provider=otel.tracer_provider)

        @traced_tool(description="Find the customer's Stripe subscription by e-mail.", telemetry=telemetry)
        def lookup_subscription(email: str) -> dict[str, Any]:
            with tracer.start_as_current_span("stripe GET /v1/subscriptions", kind=SpanKind.CLIENT):
                return {"plan": "pro", "status": "active", "email": email}

        @traced_tool(description="Create a meeting on the user's calendar.", telemetry=telemetry)
        def create_calendar_event(title: str, start: str) -> dict[str, Any]:
            with tracer.start_as_current_span("calendar.events.insert", kind=SpanKind.CLIENT):
                return {"id": "evt_1", "title": title, "start": start}

        self.tools: dict[str, Callable[..., Any]] = {
            "lookup_subscription": lookup_subscription,
            "create_calendar_event": create_calendar_event,
        }

        def chat(messages: list[dict[str, Any]], stream: bool = False) -> Any:
            options: dict[str, Any] = {"stream_options": {"include_usage": True}} if stream else {}
            return client.chat.completions.create(
                model=MODEL,
                messages=messages,
                tools=TOOLS,
                stream=stream,
                extra_headers=USAGE_HEADERS,
                **options,
            )

        self.chat = traced_ai_call(model=MODEL, telemetry=telemetry)(chat) if decorated else chat

    def run(self, text: str, stream: bool = False) -> str:
        with (
            traced_workflow("triage_inbound", telemetry=self.telemetry),
            traced_agent("secretary", model=MODEL, telemetry=self.telemetry),
        ):
            messages: list[dict[str, Any]] = [{"role": "user", "content": text}]
            for _turn in range(4):
                message = _assemble(self.chat(messages, stream=True)) if stream else self._complete(messages)
                if not message.get("tool_calls"):
                    return str(message.get("content") or "")
                messages.append(message)
                messages.extend(dispatch_tool_calls(message["tool_calls"], self.tools))
        raise AssertionError("the model never stopped asking for tools")

    def _complete(self, messages: list[dict[str, Any]]) -> dict[str, Any]:
        response = self.chat(messages)
        result: dict[str, Any] = response.choices[0].message.model_dump(exclude_none=True)
        return result


def _assemble(stream: Any) -> dict[str, Any]:
    """Fold Chat Completions chunks into one assistant message, tool-call deltas by index."""
    content: list[str] = []
    calls: dict[int, dict[str, Any]] = {}
    for chunk in stream:
        for choice in chunk.choices:
            delta = choice.delta
            if delta.content:
                content.append(delta.content)
            for call in delta.tool_calls or ():
                entry = calls.setdefault(call.index, {"id": None, "type": "function", "function": {}})
                entry["id"] = call.id or entry["id"]
                function = entry["function"]
                if call.function and call.function.name:
                    function["name"] = call.function.name
                if call.function and call.function.arguments:
                    function["arguments"] = function.get("arguments", "") + call.function.arguments
    message: dict[str, Any] = {"role": "assistant", "content": "".join(content) or None}
    if calls:
        message["tool_calls"] = [calls[i] for i in sorted(calls)]
    return message
