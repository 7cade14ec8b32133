"""Our three instrumentors under the real ``opentelemetry-instrument`` launcher and the example app.

Proves they load from their entry points in a real process (errors during auto-instrumentation are
swallowed upstream, so only a real run shows it), nest under the Flask request, and reach the
exported JSON-lines traces and the in-process ``/metrics`` endpoint.
"""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.example_app import RunningExample, run_example
from tests.support.otlp_json import JsonSpan, read_spans

pytestmark = pytest.mark.integration

SERVER, CLIENT = 2, 3


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningExample]:
    with run_example(tmp_path_factory.mktemp("ai-example"), with_worker=False) as running:
        yield running


def _spans_named(path: Path, names: set[str], timeout: float = 30) -> list[JsonSpan]:
    deadline = time.monotonic() + timeout
    spans: list[JsonSpan] = []
    while time.monotonic() < deadline:
        spans = read_spans(path) if path.exists() else []
        if names <= {s.name for s in spans}:
            return spans
        time.sleep(0.2)
    raise AssertionError(
        f"missing {sorted(names - {s.name for s in spans})}; have {sorted({s.name for s in spans})}"
    )


def test_openai_stripe_calendar_spans_under_the_request(example: RunningExample) -> None:
    status, _ = example.request(
        "POST",
        "/api/v1/emails/summarize",
        {"subject": "Plan", "body": "Budget review"},
        {"X-Fake-Fault": "429"},
    )
    assert status == 200
    status, _ = example.request(
        "POST",
        "/api/v1/meetings",
        {
            "title": "Sync",
            "start": "2026-12-01T10:00:00Z",
            "end": "2026-12-01T10:30:00Z",
            "calendar_id": "dana@example.com",
        },
    )
    assert status == 201
    status, _ = example.request("POST", "/api/v1/subscriptions", {"email": "erin@example.com"})
    assert status == 201

    expected = {
        "chat gpt-4o-mini",
        "POST /v1/chat/completions",
        "calendar.events.insert",
        "stripe POST /v1/customers",
        "stripe POST /v1/subscriptions",
        # The server spans end after their children: wait for them too before walking parents.
        "POST /api/v1/emails/summarize",
        "POST /api/v1/meetings",
        "POST /api/v1/subscriptions",
    }
    spans = _spans_named(example.data_dir / "traces.jsonl", expected)
    by_id = {s.span_id: s for s in spans}

    chat = next(s for s in spans if s.name == "chat gpt-4o-mini")
    attempts = [s for s in spans if s.parent_span_id == chat.span_id]
    assert sorted(a.attributes.get("http.response.status_code") for a in attempts) == [
        200,
        429,
    ]  # one per attempt
    assert chat.attributes["gen_ai.usage.input_tokens"] > 0
    assert "error.type" not in chat.attributes
    server = by_id[chat.parent_span_id]
    assert server.kind == SERVER and server.attributes.get("http.route") == "/api/v1/emails/summarize"

    insert = next(s for s in spans if s.name == "calendar.events.insert")
    assert insert.kind == CLIENT
    assert insert.attributes["otel_secretary.calendar.id"].startswith("sha256:")
    assert "dana" not in str(insert.attributes)
    for name in ("stripe POST /v1/customers", "stripe POST /v1/subscriptions"):
        span = next(s for s in spans if s.name == name)
        assert span.attributes["stripe.request_id"] == "req_123"
        assert by_id[span.parent_span_id].attributes.get("http.route") == "/api/v1/subscriptions"
        (attempt,) = [s for s in spans if s.parent_span_id == span.span_id]
        assert attempt.name == name.removeprefix("stripe ")
    # One span per physical attempt: the generic requests/httpx instrumentations stay quiet inside ours.
    assert not [s.name for s in spans if s.name in ("POST", "GET")]


def test_metrics_reach_the_in_process_endpoint(example: RunningExample) -> None:
    example.request("POST", "/api/v1/emails/summarize", {"subject": "Plan", "body": "Budget review"})
    deadline = time.monotonic() + 20
    text = ""
    wanted = (
        "gen_ai_client_operation_duration_seconds_bucket",
        "gen_ai_client_token_usage_bucket",
        "otel_secretary_ratelimit_remaining",
        "http_client_request_duration_seconds_bucket",
    )
    while time.monotonic() < deadline:
        with urllib.request.urlopen(
            f"http://127.0.0.1:{example.metrics_port}/metrics", timeout=5
        ) as response:
            text = response.read().decode()
        if all(name in text for name in wanted):
            break
        time.sleep(0.3)
    missing = [name for name in wanted if name not in text]
    assert not missing, missing
