"""The product's first promise, proven with real processes: ``opentelemetry-instrument`` + only
``OTEL_SERVICE_NAME`` gives request spans with routes, outbound client spans, and a Celery task in the
request's trace across a real Redis broker and a real worker process."""

from __future__ import annotations

import re
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.example_app import RunningExample, run_example
from tests.support.otlp_json import JsonSpan, read_spans

pytestmark = pytest.mark.integration

SERVER, CLIENT, PRODUCER, CONSUMER = 2, 3, 4, 5  # OTLP SpanKind numbers


def wait_for_spans(path: Path, done: Callable[[list[JsonSpan]], bool], timeout: float = 30) -> list[JsonSpan]:
    deadline = time.monotonic() + timeout
    spans: list[JsonSpan] = []
    while time.monotonic() < deadline:
        spans = read_spans(path) if path.exists() else []
        if done(spans):
            return spans
        time.sleep(0.2)
    names = sorted({s.name for s in spans})
    raise AssertionError(f"expected spans never arrived; have {len(spans)}: {names}")


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningExample]:
    with run_example(tmp_path_factory.mktemp("example")) as running:
        yield running


def test_request_spans_carry_the_route_template(example: RunningExample) -> None:
    status, _ = example.request("GET", "/api/v1/messages", headers={"X-Tenant-ID": "t-route"})
    assert status == 200
    spans = wait_for_spans(
        example.data_dir / "traces.jsonl",
        lambda s: any(x.attributes.get("http.route") == "/api/v1/messages" for x in s),
    )
    server = next(s for s in spans if s.attributes.get("http.route") == "/api/v1/messages")
    assert server.kind == SERVER
    assert server.resource["service.name"] == "ai-secretary"
    assert server.resource["telemetry.distro.name"] == "otel-secretary"
    assert server.attributes["app.tenant.id"] == "t-route"
    # The SQLAlchemy instrumentation is active: the query is a CLIENT span inside the request.
    spans = wait_for_spans(
        example.data_dir / "traces.jsonl",
        lambda s: any(x.trace_id == server.trace_id and x.kind == CLIENT for x in s),
    )
    queries = [s for s in spans if s.trace_id == server.trace_id and s.kind == CLIENT]
    assert any(
        s.attributes.get("db.system") == "sqlite" or s.attributes.get("db.system.name") == "sqlite"
        for s in queries
    ), [s.attributes for s in queries]


def test_outbound_calls_are_client_spans_inside_the_request_trace(example: RunningExample) -> None:
    status, body = example.request(
        "POST", "/api/v1/emails/summarize", {"subject": "Quarterly plan", "body": "Please review the plan."}
    )
    assert status == 200 and body["summary"]
    status, _ = example.request(
        "POST",
        "/api/v1/meetings",
        {"title": "Sync", "start": "2026-12-01T10:00:00Z", "end": "2026-12-01T10:30:00Z"},
    )
    assert status == 201

    def has_both(spans: list[JsonSpan]) -> bool:
        routes = {s.attributes.get("http.route") for s in spans if s.kind == SERVER}
        return {"/api/v1/emails/summarize", "/api/v1/meetings"} <= routes

    spans = wait_for_spans(example.data_dir / "traces.jsonl", has_both)
    for route in ("/api/v1/emails/summarize", "/api/v1/meetings"):
        server = next(s for s in spans if s.kind == SERVER and s.attributes.get("http.route") == route)
        clients = [s for s in spans if s.trace_id == server.trace_id and s.kind == CLIENT]
        assert clients, f"no outbound CLIENT span under {route}"


def test_celery_task_is_a_child_of_the_request_trace(example: RunningExample) -> None:
    status, _ = example.request(
        "POST",
        "/api/v1/messages/inbound",
        {"sender": "a@example.com", "body": "Lunch on Friday?"},
        headers={"X-Tenant-ID": "t-celery", "X-User-ID": "jane.doe@example.com"},
    )
    assert status == 202

    def task_ran(spans: list[JsonSpan]) -> bool:
        # Both processes export on their own schedule: wait for the task and the request's span.
        return any(s.kind == CONSUMER and "process_inbound_message" in s.name for s in spans) and any(
            s.kind == SERVER and s.attributes.get("http.route") == "/api/v1/messages/inbound" for s in spans
        )

    spans = wait_for_spans(example.data_dir / "traces.jsonl", task_ran, timeout=45)
    by_id = {s.span_id: s for s in spans}
    task = next(s for s in spans if s.kind == CONSUMER and "process_inbound_message" in s.name)
    server = next(
        s for s in spans if s.kind == SERVER and s.attributes.get("http.route") == "/api/v1/messages/inbound"
    )
    assert task.trace_id == server.trace_id
    # Walk up from the task: it must reach the request's server span through the publish span.
    chain, node = [], task
    while node.parent_span_id in by_id:
        node = by_id[node.parent_span_id]
        chain.append(node.kind)
    assert node.span_id == server.span_id and PRODUCER in chain
    assert task.resource["process.pid"] != server.resource["process.pid"]
    # Tenant and the pseudonymous user travelled as baggage through Redis into the worker.
    assert task.attributes["app.tenant.id"] == "t-celery"
    assert re.fullmatch(r"[0-9a-f]{16}", task.attributes["enduser.id"])
    assert task.attributes["enduser.id"] == server.attributes["enduser.id"]


def test_metrics_are_served_in_process(example: RunningExample) -> None:
    example.request("GET", "/api/v1/messages")
    port = example.metrics_port
    deadline = time.monotonic() + 20
    text = ""
    while time.monotonic() < deadline and "http_server_request_duration_seconds" not in text:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            text = response.read().decode()
        time.sleep(0.3)
    assert 'http_route="/api/v1/messages"' in text
    # The API process watches the Celery queue (stalled workers cannot report their own backlog).
    assert 'messaging_celery_queue_length{messaging_destination_name="celery"' in text


def test_personal_data_in_urls_never_reaches_the_exported_files(example: RunningExample) -> None:
    status, _ = example.request(
        "GET", "/api/v1/messages?contact=jane.doe@example.com&token=s3cr3t-t0ken-value"
    )
    assert status == 200
    spans = wait_for_spans(
        example.data_dir / "traces.jsonl",
        lambda s: any("contact=" in str(x.attributes.get("url.query", "")) for x in s),
    )
    query = next(
        str(s.attributes["url.query"]) for s in spans if "contact=" in str(s.attributes.get("url.query"))
    )
    assert "jane.doe@example.com" not in query and "s3cr3t-t0ken-value" not in query
    for file in example.data_dir.glob("*.jsonl*"):
        text = file.read_text()
        assert "jane.doe@example.com" not in text and "s3cr3t-t0ken-value" not in text, file.name
