"""The example app's agent under ``opentelemetry-instrument``: one trace, workflow to Stripe/Calendar.

The inbound message is answered by the assistant agent (OpenAI function calling against the local
stand-in, Stripe and Calendar through their real clients), in the real Flask process with our
distro, and the exported JSON-lines trace is read back.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.example_app import RunningExample, run_example
from tests.support.otlp_json import JsonSpan, read_spans

pytestmark = pytest.mark.integration

INTERNAL, SERVER, CLIENT = 1, 2, 3
WANTED = {
    "POST /api/v1/messages/answer",
    "invoke_workflow answer_inbound",
    "invoke_agent secretary",
    "chat gpt-4o-mini",
    "execute_tool lookup_subscription",
    "execute_tool create_calendar_event",
    "execute_tool draft_reply",
    "calendar.events.insert",
    "stripe GET /v1/customers",
}


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningExample]:
    with run_example(tmp_path_factory.mktemp("agent-example"), with_worker=False) as running:
        yield running


def _wait_for(path: Path, names: set[str], timeout: float = 30) -> list[JsonSpan]:
    deadline = time.monotonic() + timeout
    spans: list[JsonSpan] = []
    while time.monotonic() < deadline:
        spans = read_spans(path) if path.exists() else []
        if names <= {s.name for s in spans}:
            return spans
        time.sleep(0.2)
    raise AssertionError(f"missing {sorted(names - {s.name for s in spans})}")


def test_inbound_message_answered_by_the_agent_is_one_trace(example: RunningExample) -> None:
    status, body = example.request(
        "POST",
        "/api/v1/messages/answer",
        {"sender": "erin@example.com", "body": "Can we book a renewal call next week?"},
        {"X-Tenant-ID": "tenant-acme", "X-Conversation-ID": "conv-acme-7"},
    )
    assert status == 200 and body["reply"]
    spans = _wait_for(example.data_dir / "traces.jsonl", WANTED)
    by_id = {s.span_id: s for s in spans}

    def parent(span: JsonSpan) -> JsonSpan:
        return by_id[span.parent_span_id]

    workflow = next(s for s in spans if s.name == "invoke_workflow answer_inbound")
    agent = next(s for s in spans if s.name == "invoke_agent secretary")
    chats = sorted(
        (s for s in spans if s.name == "chat gpt-4o-mini" and s.trace_id == agent.trace_id),
        key=lambda s: s.raw["startTimeUnixNano"],
    )
    tools = {s.name.removeprefix("execute_tool "): s for s in spans if s.name.startswith("execute_tool ")}
    assert parent(workflow).name == "POST /api/v1/messages/answer" and parent(workflow).kind == SERVER
    assert parent(agent) is workflow and agent.kind == INTERNAL
    assert len(chats) == 2 and all(parent(c) is agent and c.kind == CLIENT for c in chats)
    assert all(parent(t) is agent and t.kind == INTERNAL for t in tools.values())
    # Decorator around the auto-instrumented client: still one chat span per model call.
    assert not [s for s in spans if s.parent_span_id in {c.span_id for c in chats}]
    requested = dict(
        zip(
            chats[0].attributes["app.genai.tool_call.names"],
            chats[0].attributes["app.genai.tool_call.ids"],
            strict=True,
        )
    )
    assert set(requested) == set(tools)
    for name, tool in tools.items():
        assert tool.attributes["gen_ai.tool.call.id"] == requested[name]
        assert tool.attributes["gen_ai.agent.name"] == "secretary"
    assert (
        parent(next(s for s in spans if s.name == "calendar.events.insert")) is tools["create_calendar_event"]
    )
    assert (
        parent(next(s for s in spans if s.name == "stripe GET /v1/customers")) is tools["lookup_subscription"]
    )
    for span in (workflow, agent, *chats):
        assert span.attributes["gen_ai.conversation.id"] == "conv-acme-7", span.name
    for chat in chats:
        assert chat.attributes["app.genai.cost_usd"] > 0
        assert chat.attributes["app.tenant.id"] == "tenant-acme"
    assert "erin@example.com" not in str([s.raw for s in spans])
