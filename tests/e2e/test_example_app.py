"""The example AI secretary as real processes under `opentelemetry-instrument`, exporting OTLP to the stack's
collector; everything is asserted through Jaeger's and Prometheus's own query APIs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from otel_secretary.cli import app as cli
from tests.e2e._apis import eventually, parent_id, spans_of, tags
from tests.e2e.conftest import RunningStack
from tests.support.example_app import RunningExample, run_example

pytestmark = pytest.mark.e2e

SERVICE = "ai-secretary"
# Synthetic PII sent in the traffic; none of it may reach Jaeger.
EMAIL = "jane.doe@example.com"
CARD = "4242 4242 4242 4242"
PHONE = "555-0100"
PII = (EMAIL, CARD, "4242424242424242", PHONE)


@dataclass
class Traffic:
    example: RunningExample
    statuses: dict[str, int]


@pytest.fixture(scope="module")
def traffic(running_stack: RunningStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Traffic]:
    otel_env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": running_stack.otlp_http,
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_METRIC_EXPORT_INTERVAL": "1000",
    }
    with run_example(
        tmp_path_factory.mktemp("example"), otel_env, redis_url=running_stack.redis_url
    ) as example:
        statuses = {}
        statuses["inbound"], _ = example.request(
            "POST",
            "/api/v1/messages/inbound",
            {"sender": EMAIL, "body": f"Lunch on Friday? Call me at {PHONE}."},
            headers={"X-Tenant-ID": "t-e2e"},
        )
        statuses["summarize"], _ = example.request(
            "POST", "/api/v1/emails/summarize", {"subject": "Invoice", "body": f"Card {CARD}, mail {EMAIL}"}
        )
        statuses["meeting"], _ = example.request(
            "POST",
            "/api/v1/meetings",
            {
                "title": "Sync",
                "start": "2026-12-01T10:00:00Z",
                "end": "2026-12-01T10:30:00Z",
                "attendees": [EMAIL],
            },
        )
        statuses["subscription"], _ = example.request(
            "POST", "/api/v1/subscriptions", {"email": EMAIL, "price": "price_basic"}
        )
        statuses["failing"], _ = example.request(
            "POST",
            "/api/v1/emails/summarize",
            {"subject": "x", "body": f"reply to {EMAIL}"},
            headers={"X-Fake-Fault": "500x5"},
        )
        # Wait inside the context: the Celery task must run and both processes flush on SIGTERM at exit.
        eventually(lambda: _trace_with(running_stack, "run/"), timeout=60, what="Celery task span in Jaeger")
        yield Traffic(example, statuses)


def _traces(running_stack: RunningStack) -> list[dict[str, Any]]:
    return running_stack.jaeger.traces(SERVICE, limit=1000)


def _trace_with(running_stack: RunningStack, name_prefix: str) -> dict[str, Any] | None:
    for trace in _traces(running_stack):
        if any(s["operationName"].startswith(name_prefix) for s in spans_of(trace)):
            return trace
    return None


def _server_trace(running_stack: RunningStack, route: str, *, error: bool = False) -> dict[str, Any]:
    def find() -> dict[str, Any] | None:
        for trace in _traces(running_stack):
            for span in spans_of(trace):
                t = tags(span)
                if (
                    t.get("http.route") == route
                    and t.get("span.kind") == "server"
                    and bool(t.get("error")) == error
                ):
                    return trace
        return None

    return eventually(find, timeout=60, what=f"trace for {route} (error={error})")


def _by_id(trace: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["spanID"]: s for s in spans_of(trace)}


def _ancestors(span: dict[str, Any], by_id: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    chain = []
    node = span
    while (pid := parent_id(node)) in by_id:
        node = by_id[pid]
        chain.append(node)
    return chain


def _root(trace: dict[str, Any]) -> dict[str, Any]:
    roots = [s for s in spans_of(trace) if parent_id(s) is None]
    assert len(roots) == 1, [r["operationName"] for r in roots]
    return roots[0]


def test_inbound_message_trace_runs_flask_then_celery_then_openai(
    running_stack: RunningStack, traffic: Traffic
) -> None:
    assert traffic.statuses["inbound"] == 202
    trace = _server_trace(running_stack, "/api/v1/messages/inbound")
    by_id = _by_id(trace)
    root = _root(trace)
    assert tags(root)["span.kind"] == "server" and tags(root)["app.tenant.id"] == "t-e2e"
    consumer = next(s for s in spans_of(trace) if tags(s).get("span.kind") == "consumer")
    assert consumer["operationName"] == "run/ai_secretary.process_inbound_message"
    chain = _ancestors(consumer, by_id)
    assert [tags(s)["span.kind"] for s in chain] == ["producer", "server"]
    assert chain[-1]["spanID"] == root["spanID"]
    chat = next(s for s in spans_of(trace) if tags(s).get("gen_ai.operation.name") == "chat")
    assert parent_id(chat) == consumer["spanID"]
    assert tags(chat)["gen_ai.provider.name"] == "openai" and tags(chat)["gen_ai.usage.output_tokens"] > 0
    # The worker is a different process from the web app, yet one trace.
    processes = trace["processes"]
    assert processes[consumer["processID"]]["serviceName"] == SERVICE
    assert consumer["processID"] != root["processID"]


def test_summarize_trace_has_one_chat_span_for_the_openai_call(
    running_stack: RunningStack, traffic: Traffic
) -> None:
    """One span per model call (issue 15): the HTTP attempt is a child only when the client retried."""
    assert traffic.statuses["summarize"] == 200
    trace = _server_trace(running_stack, "/api/v1/emails/summarize")
    root = _root(trace)
    chats = [s for s in spans_of(trace) if tags(s).get("gen_ai.operation.name") == "chat"]
    assert len(chats) == 1, [s["operationName"] for s in chats]
    [chat] = chats
    assert parent_id(chat) == root["spanID"] and tags(chat)["span.kind"] == "client"
    assert tags(chat).get("server.address") and tags(chat).get("gen_ai.usage.input_tokens")
    attempts = [s for s in spans_of(trace) if parent_id(s) == chat["spanID"]]
    assert not attempts or any("http.request.resend_count" in tags(s) for s in attempts), attempts


def test_failing_request_is_kept_as_an_error_trace(running_stack: RunningStack, traffic: Traffic) -> None:
    assert traffic.statuses["failing"] >= 500
    trace = _server_trace(running_stack, "/api/v1/emails/summarize", error=True)
    root = _root(trace)
    assert tags(root)["otel.status_code"] == "ERROR"
    assert tags(root).get("app.error.system") == "openai"


def test_meeting_trace_has_a_calendar_span_under_the_request(
    running_stack: RunningStack, traffic: Traffic
) -> None:
    assert traffic.statuses["meeting"] == 201
    trace = _server_trace(running_stack, "/api/v1/meetings")
    root = _root(trace)
    calendar = [s for s in spans_of(trace) if s["operationName"].startswith("calendar.")]
    assert calendar and parent_id(calendar[0]) == root["spanID"]
    assert calendar[0]["operationName"] == "calendar.events.insert"


def test_subscription_trace_has_stripe_spans_under_the_request(
    running_stack: RunningStack, traffic: Traffic
) -> None:
    assert traffic.statuses["subscription"] == 201
    trace = _server_trace(running_stack, "/api/v1/subscriptions")
    root = _root(trace)
    stripe_spans = [s for s in spans_of(trace) if s["operationName"].startswith("stripe ")]
    names = {s["operationName"] for s in stripe_spans}
    assert {"stripe POST /v1/customers", "stripe POST /v1/subscriptions"} <= names, names
    assert all(parent_id(s) == root["spanID"] for s in stripe_spans)


def test_no_stored_span_anywhere_contains_the_pii_we_sent(
    running_stack: RunningStack, traffic: Traffic
) -> None:
    everything = running_stack.jaeger.all_traces()
    assert sum(len(spans_of(t)) for t in everything) > 20
    dump = json.dumps(everything)
    for secret in PII:
        assert secret not in dump, f"{secret!r} found in Jaeger"


def _series(running_stack: RunningStack, promql: str) -> list[dict[str, Any]]:
    return eventually(lambda: running_stack.prometheus.query(promql), timeout=60, what=promql)


def test_prometheus_holds_span_metrics_for_the_app(running_stack: RunningStack, traffic: Traffic) -> None:
    result = _series(
        running_stack,
        f'traces_span_metrics_calls_total{{service_name="{SERVICE}", '
        'span_name="POST /api/v1/messages/inbound"}',
    )
    assert result[0]["metric"]["span_kind"] == "SPAN_KIND_SERVER"
    # Wait for this span's error series itself: other error series (retried attempts) may come first.
    errors = _series(
        running_stack,
        f'traces_span_metrics_calls_total{{service_name="{SERVICE}", status_code="STATUS_CODE_ERROR", '
        'span_name="POST /api/v1/emails/summarize"}',
    )
    assert errors[0]["metric"]["span_kind"] == "SPAN_KIND_SERVER"


def test_prometheus_holds_the_sdk_metrics_with_their_labels(
    running_stack: RunningStack, traffic: Traffic
) -> None:
    http = _series(
        running_stack, 'http_server_request_duration_seconds_count{http_route="/api/v1/messages/inbound"}'
    )
    assert http[0]["metric"]["job"] == SERVICE
    assert http[0]["metric"]["http_request_method"] == "POST"
    assert http[0]["metric"]["http_response_status_code"] == "202"
    tokens = _series(running_stack, 'gen_ai_client_token_usage_count{gen_ai_operation_name="chat"}')
    assert {r["metric"]["gen_ai_token_type"] for r in tokens} >= {"input", "output"}
    assert all(r["metric"]["gen_ai_request_model"] == "gpt-4o-mini" for r in tokens)
    duration = _series(
        running_stack, 'gen_ai_client_operation_duration_seconds_count{gen_ai_operation_name="chat"}'
    )
    assert duration[0]["metric"]["gen_ai_provider_name"] == "openai"
    errors = _series(running_stack, "app_errors_total")
    assert any(r["metric"].get("app_error_system") == "openai" for r in errors), [r["metric"] for r in errors]


def test_errors_summary_reads_the_failures_back_from_prometheus_and_jaeger(
    running_stack: RunningStack, traffic: Traffic
) -> None:
    """`otel-secretary errors summary` against the real stack: rates from Prometheus' app_errors_total,
    fingerprints from the error spans Jaeger stored for the failing summarize request."""
    assert traffic.statuses["failing"] >= 500
    argv = [
        "errors",
        "summary",
        "--source",
        "stack",
        "--window",
        "10m",
        "--prometheus-url",
        running_stack.stack.prometheus_url,
        "--jaeger-url",
        running_stack.stack.jaeger_url,
        "--json",
    ]

    def summary() -> dict[str, Any] | None:
        result = CliRunner().invoke(cli, argv)
        assert result.exit_code == 0, result.output
        data: dict[str, Any] = json.loads(result.output)
        categories = {row["category"] for row in data["categories"]}
        return data if "external_api" in categories and data["fingerprints"] else None

    data = eventually(summary, timeout=60, what="external_api errors with a fingerprint in the summary")
    assert not data["notes"], data["notes"]
    openai = [f for f in data["fingerprints"] if f["system"] == "openai"]
    assert openai, data["fingerprints"]
    assert openai[0]["category"] == "external_api" and len(openai[0]["fingerprint"]) >= 8
    assert openai[0]["count"] >= 1 and openai[0]["example_trace_id"]
    # The fingerprint points at a trace Jaeger really holds.
    trace = running_stack.jaeger.traces(SERVICE, limit=1000)
    assert any(t["traceID"] == openai[0]["example_trace_id"] for t in trace)


def test_the_example_logs_are_written_for_debugging(traffic: Traffic) -> None:
    """Guards the fixture itself: both processes really ran under the instrument launcher."""
    logs = {p.name for p in Path(traffic.example.log_dir).iterdir()}
    assert {"flask.log", "celery.log"} <= logs
