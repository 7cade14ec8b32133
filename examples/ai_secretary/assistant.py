"""What the secretary does with a model: summarise e-mails, and answer inbound messages as an agent
(OpenAI function calling with Stripe, Calendar and drafting tools). Used by the API and the worker."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import cache
from typing import Any

from examples.ai_secretary.clients import calendar_service, openai_client, stripe_client
from examples.ai_secretary.config import AppConfig
from otel_secretary import traced_ai_call
from otel_secretary.genai import dispatch_tool_calls, traced_agent, traced_tool, traced_workflow

MODEL = "gpt-4o-mini"
_SYSTEM = "You are an executive assistant. Summarise the e-mail in two sentences."


def _messages(subject: str, body: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": _SYSTEM}, {"role": "user", "content": f"{subject}\n\n{body}"}]


# The decorator makes the call one GenAI span (tokens, cost, errors) whoever calls it; around the
# auto-instrumented OpenAI client it merges with that instrumentation instead of adding a second span.
@traced_ai_call(operation="chat", model=MODEL)
def summarize_email(config: AppConfig, subject: str, body: str, fault: str | None = None) -> str:
    response = openai_client(config).chat.completions.create(
        model=MODEL,
        messages=_messages(subject, body),
        temperature=0.2,
        max_tokens=120,
        extra_headers={"x-fake-fault": fault} if fault else None,
    )
    return response.choices[0].message.content or ""


@traced_ai_call(operation="chat", model=MODEL)
def stream_summary(config: AppConfig, subject: str, body: str) -> Iterator[str]:
    stream = openai_client(config).chat.completions.create(
        model=MODEL,
        messages=_messages(subject, body),
        stream=True,
        stream_options={"include_usage": True},
    )
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            yield chunk.choices[0].delta.content


# -- the agent: answer an inbound message with OpenAI function calling ------------------------------

_AGENT_SYSTEM = (
    "You are an executive assistant. Use the tools to look up the sender's subscription, put a meeting "
    "on the calendar when one is asked for, and draft the reply."
)
AGENT_TOOLS: list[dict[str, Any]] = [
    {
        "type": "function",
        "function": {
            "name": "lookup_subscription",
            "description": "Find the sender's Stripe subscription by e-mail.",
            "parameters": {
                "type": "object",
                "properties": {"email": {"type": "string"}},
                "required": ["email"],
            },
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
                    "end": {"type": "string", "format": "date-time"},
                },
                "required": ["title", "start", "end"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "draft_reply",
            "description": "Draft the reply to the sender.",
            "parameters": {
                "type": "object",
                "properties": {"to_email": {"type": "string"}, "summary": {"type": "string"}},
                "required": ["to_email", "summary"],
            },
        },
    },
]
_MAX_TURNS = 4


@cache
def _tools(config: AppConfig) -> dict[str, Callable[..., Any]]:
    """The functions the model may call; each is an ``execute_tool`` span with the model's call id."""

    @traced_tool(description="Find the sender's Stripe subscription by e-mail.")
    def lookup_subscription(email: str) -> dict[str, Any]:
        client = stripe_client(config)
        customers = client.v1.customers.list(params={"email": email, "limit": 1})
        if not customers.data:
            return {"subscription": None}
        subscriptions = client.v1.subscriptions.list(params={"customer": customers.data[0].id, "limit": 1})
        found = subscriptions.data[0] if subscriptions.data else None
        return {"subscription": found.id if found else None, "status": found.status if found else None}

    @traced_tool(description="Create a meeting on the user's calendar.")
    def create_calendar_event(title: str, start: str, end: str) -> dict[str, Any]:
        event = {"summary": title, "start": {"dateTime": start}, "end": {"dateTime": end}}
        created = calendar_service(config).events().insert(calendarId="primary", body=event).execute()
        return {"event": created.get("id"), "status": created.get("status")}

    @traced_tool(description="Draft the reply to the sender.")
    def draft_reply(to_email: str, summary: str) -> dict[str, Any]:
        return {"to": to_email, "draft": f"Thanks for your message. {summary}"}

    return {
        "lookup_subscription": lookup_subscription,
        "create_calendar_event": create_calendar_event,
        "draft_reply": draft_reply,
    }


@traced_ai_call(operation="chat", model=MODEL)
def _agent_step(config: AppConfig, messages: list[dict[str, Any]]) -> Any:
    return openai_client(config).chat.completions.create(model=MODEL, messages=messages, tools=AGENT_TOOLS)


def answer_inbound(config: AppConfig, sender: str, body: str, conversation_id: str | None = None) -> str:
    """One agent turn: the model calls tools (subscription, calendar, draft) and then answers.

    Traced as ``invoke_workflow answer_inbound`` → ``invoke_agent secretary`` → ``chat`` →
    ``execute_tool`` → the Stripe/Calendar spans the tools make.
    """
    with (
        traced_workflow("answer_inbound", conversation_id=conversation_id),
        traced_agent("secretary", model=MODEL, conversation_id=conversation_id),
    ):
        messages: list[dict[str, Any]] = [
            {"role": "system", "content": _AGENT_SYSTEM},
            {"role": "user", "content": f"From {sender}:\n\n{body}"},
        ]
        tools = _tools(config)
        for _turn in range(_MAX_TURNS):
            message = _agent_step(config, messages).choices[0].message
            if not message.tool_calls:
                return message.content or ""
            messages.append(message.model_dump(exclude_none=True))
            messages.extend(dispatch_tool_calls(message.tool_calls, tools))
        return ""
