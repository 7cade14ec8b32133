"""`otel-secretary errors summary` over real JSON-lines trace files and over the stack's HTTP APIs."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind
from typer.testing import CliRunner

from otel_secretary.cli import app as cli_app
from otel_secretary.errors import ErrorRecorder
from otel_secretary.errors.summary import parse_window, summarize_files, summarize_stack
from otel_secretary.sdk.trace.jsonl_exporter import JsonLinesSpanExporter
from otel_secretary.settings import Settings
from tests.support.http_server import serving


def _write_traffic(data_dir: Path) -> dict[str, str]:
    """Real spans through the embedded default's exporter, small files so rotation really happens."""
    settings = Settings(data_dir=data_dir, file_max_bytes=4000, file_backups=20)
    provider = TracerProvider(resource=Resource.create({"service.name": "secretary-api"}))
    provider.add_span_processor(SimpleSpanProcessor(JsonLinesSpanExporter(settings=settings)))
    tracer = provider.get_tracer("summary-test")
    recorder = ErrorRecorder(meter_provider=MeterProvider())
    engine = sa.create_engine("sqlite://")
    fingerprints: dict[str, str] = {}

    for meeting_id in (11, 12, 13):  # one bug, three requests, each recorded on client and server span
        with tracer.start_as_current_span("GET /api/v1/meetings/<id>", kind=SpanKind.SERVER) as server:
            server.set_attribute("http.route", "/api/v1/meetings/<id>")
            with tracer.start_as_current_span(
                "SELECT", kind=SpanKind.CLIENT, record_exception=False
            ) as client:
                try:
                    with engine.connect() as conn:
                        conn.execute(sa.text(f"SELECT * FROM meetings WHERE id = {meeting_id}"))
                except sa.exc.OperationalError as exc:
                    fingerprints["db"] = recorder.record(client, exc).fingerprint
                    recorder.record(server, exc, add_event=False)
    with tracer.start_as_current_span("POST /api/v1/emails/summarize", kind=SpanKind.SERVER) as server:
        server.set_attribute("http.route", "/api/v1/emails/summarize")
        try:
            raise TimeoutError("model did not answer in 30 s")
        except TimeoutError as exc:
            fingerprints["timeout"] = recorder.record(server, exc, system="openai").fingerprint
    for _ in range(6):
        with tracer.start_as_current_span("GET /health", kind=SpanKind.SERVER):
            pass
    provider.shutdown()
    return fingerprints


@pytest.fixture
def traffic(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    return tmp_path, _write_traffic(tmp_path)


def test_files_summary_counts_occurrences_per_trace_across_rotations(
    traffic: tuple[Path, dict[str, str]],
) -> None:
    data_dir, fingerprints = traffic
    assert (data_dir / "traces.jsonl.1").exists()  # the spans really were spread over rotated files
    with (data_dir / "traces.jsonl").open("a") as handle:
        handle.write('{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "ab')  # torn last line

    summary = summarize_files(data_dir, 3600)
    assert [(r.category, r.count, dict(r.by_severity)) for r in summary.categories] == [
        ("database", 3, {"high": 3}),
        ("timeout", 1, {"medium": 1}),
    ]
    assert summary.categories[0].per_minute == pytest.approx(3 / 60)
    assert (summary.requests, summary.failed_requests) == (10, 4)
    top = summary.fingerprints[0]
    assert (top.fingerprint, top.count, top.error_type) == (
        fingerprints["db"],
        3,
        "sqlalchemy.exc.OperationalError",
    )
    assert top.where == "secretary-api /api/v1/meetings/<id>"
    assert len(top.example_trace_id) == 32
    assert [(f.fingerprint, f.system) for f in summary.fingerprints[1:]] == [
        (fingerprints["timeout"], "openai")
    ]


def test_files_summary_respects_the_window(traffic: tuple[Path, dict[str, str]]) -> None:
    data_dir, _ = traffic
    later = summarize_files(data_dir, 600, now=time.time() + 3600)
    assert later.categories == [] and later.fingerprints == [] and later.requests == 0


def test_missing_data_dir_gives_a_note_not_a_crash(tmp_path: Path) -> None:
    summary = summarize_files(tmp_path / "nothing", 3600)
    assert summary.total == 0 and "no trace files" in summary.notes[0]


def test_cli_prints_tables_and_json(traffic: tuple[Path, dict[str, str]]) -> None:
    data_dir, fingerprints = traffic
    runner = CliRunner()
    table = runner.invoke(
        cli_app,
        ["errors", "summary", "--source", "files", "--data-dir", str(data_dir), "--window", "2h"],
        env={"COLUMNS": "250"},
    )
    assert table.exit_code == 0, table.output
    assert "4 errors in the last 2h" in table.output
    assert "4 of 10 requests failed (40.00%)" in table.output
    assert fingerprints["db"] in table.output and "database" in table.output

    as_json = runner.invoke(
        cli_app, ["errors", "summary", "--source", "files", "--data-dir", str(data_dir), "--json"]
    )
    assert as_json.exit_code == 0, as_json.output
    body = json.loads(as_json.output)
    assert body["total"] == 4 and body["fingerprints"][0]["count"] == 3


def test_cli_rejects_a_bad_window() -> None:
    result = CliRunner().invoke(cli_app, ["errors", "summary", "--window", "soon"])
    assert result.exit_code != 0 and "bad window" in result.output


@pytest.mark.parametrize(
    ("text", "seconds"), [("90s", 90), ("15m", 900), ("1h", 3600), ("2d", 172800), ("45", 45), ("1.5h", 5400)]
)
def test_parse_window(text: str, seconds: float) -> None:
    assert parse_window(text) == seconds


class _StackAPIs(BaseHTTPRequestHandler):
    """Answers in the documented formats of Prometheus' /api/v1/query and Jaeger's /api/traces."""

    queries: list[str] = []

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        params = {k: v[0] for k, v in parse_qs(url.query).items()}
        body: dict[str, Any]
        if url.path == "/api/v1/query":
            query = params["query"]
            self.queries.append(query)
            if "app_errors_total" in query:
                result = [
                    {
                        "metric": {"app_error_category": "rate_limit", "app_error_severity": "medium"},
                        "value": [0, "12"],
                    },
                    {
                        "metric": {"app_error_category": "database", "app_error_severity": "critical"},
                        "value": [0, "3"],
                    },
                    {
                        "metric": {"app_error_category": "rate_limit", "app_error_severity": "high"},
                        "value": [0, "2"],
                    },
                ]
            elif "5.." in query:
                result = [{"metric": {}, "value": [0, "5"]}]
            else:
                result = [{"metric": {}, "value": [0, "200"]}]
            body = {"status": "success", "data": {"resultType": "vector", "result": result}}
        elif url.path == "/api/services":
            body = {"data": ["secretary-api", "jaeger-all-in-one"]}
        elif url.path == "/api/traces":
            assert params["service"] == "secretary-api"
            category = json.loads(params["tags"])["app.error.category"]
            self.queries.append(f"jaeger:{category}")

            def span(n: int, span_id: str, kind: str, error_type: str) -> dict[str, Any]:
                span_tags = [
                    {"key": "app.error.fingerprint", "type": "string", "value": "aaaabbbbccccdddd"},
                    {"key": "app.error.category", "type": "string", "value": "rate_limit"},
                    {"key": "app.error.severity", "type": "string", "value": "medium"},
                    {"key": "app.error.system", "type": "string", "value": "openai"},
                    {"key": "error.type", "type": "string", "value": error_type},
                    {"key": "span.kind", "type": "string", "value": kind},
                ]
                if kind == "server":
                    span_tags.append(
                        {"key": "http.route", "type": "string", "value": "/api/v1/emails/summarize"}
                    )
                return {
                    "traceID": f"{n:032x}",
                    "spanID": span_id,
                    "operationName": "POST" if kind == "server" else "chat gpt-4o-mini",
                    "startTime": n * 1000,
                    "duration": 5,
                    "tags": span_tags,
                }

            traces = [
                # Flask sets error.type to the status code on the server span; the client span has the class.
                {
                    "traceID": f"{n:032x}",
                    "spans": [span(n, "1", "server", "429"), span(n, "2", "client", "openai.RateLimitError")],
                }
                for n in (1, 2)
            ]
            body = {"data": traces if category == "rate_limit" else []}
        else:
            self.send_error(404)
            return
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def stack_url() -> Iterator[str]:
    with serving(_StackAPIs) as url:
        yield url


def test_stack_summary_reads_prometheus_and_jaeger(stack_url: str) -> None:
    summary = summarize_stack(stack_url, stack_url, 3600)
    assert summary.notes == []
    assert [(r.category, r.count, r.by_severity) for r in summary.categories] == [
        ("rate_limit", 14.0, {"medium": 12.0, "high": 2.0}),
        ("database", 3.0, {"critical": 3.0}),
    ]
    assert (summary.requests, summary.failed_requests) == (200.0, 5.0)
    assert any("max_over_time(app_errors_total[3600s])" in q for q in _StackAPIs.queries)
    assert {q for q in _StackAPIs.queries if q.startswith("jaeger:")} == {
        "jaeger:rate_limit",
        "jaeger:database",
    }
    [row] = summary.fingerprints
    assert (row.fingerprint, row.count, row.system, row.where, row.error_type) == (
        "aaaabbbbccccdddd",
        2,  # two traces; the second span of each trace is the same occurrence
        "openai",
        "secretary-api /api/v1/emails/summarize",
        "openai.RateLimitError",
    )


def test_stack_summary_turns_unreachable_apis_into_notes(closed_port: int) -> None:
    url = f"http://127.0.0.1:{closed_port}"
    summary = summarize_stack(url, url, 600, timeout=1)
    assert summary.categories == [] and len(summary.notes) == 2
    assert "Prometheus" in summary.notes[0] and "Jaeger" in summary.notes[1]


def test_cli_stack_source_with_services(stack_url: str) -> None:
    result = CliRunner().invoke(
        cli_app,
        [
            "errors",
            "summary",
            "--source",
            "stack",
            "--prometheus-url",
            stack_url,
            "--jaeger-url",
            stack_url,
            "--service",
            "secretary-api",
            "--window",
            "30m",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert body["total"] == 17 and body["window_seconds"] == 1800
    assert body["fingerprints"][0]["where"] == "secretary-api /api/v1/emails/summarize"
