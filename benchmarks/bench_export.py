"""The export thread's CPU per request, in-process: masking + encoding + writing the embedded files.

``bench_server.py`` measures the whole server; this one isolates the work the export thread does for one
request of that benchmark's route (a Flask server span, three SQLAlchemy/SQLite spans, one log record) so
the parts can be compared quickly and without a loaded machine's noise in the request thread:

  upstream-encoder   our masker, then upstream's OTLP-JSON encoder + ``json.dumps`` (what 0.1 shipped)
  ours               our masker in GIL-releasing slices, our direct encoder (+ orjson when installed)
  encode-only/*      the encoders alone, on already-masked items

Run: ``.venv/bin/python benchmarks/bench_export.py [--requests 4096] [--repeat 5]``
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from opentelemetry.exporter.otlp.json.common._log_encoder import encode_logs
from opentelemetry.exporter.otlp.json.common.trace_encoder import encode_spans
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import (
    InMemoryLogRecordExporter,
    LogRecordExporter,
    LogRecordExportResult,
    SimpleLogRecordProcessor,
)
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from otel_secretary import pii
from otel_secretary._internal import export_slices
from otel_secretary.pipeline import build_resource
from otel_secretary.sdk import _otlp_json
from otel_secretary.sdk._logs.jsonl_exporter import JsonLinesLogExporter
from otel_secretary.sdk._rotating_stream import RotatingLineStream
from otel_secretary.sdk.trace.jsonl_exporter import JsonLinesSpanExporter
from otel_secretary.settings import load_settings

BATCH = 512
SELECT = "SELECT count(*) FROM notes WHERE id <= ?"
INSERT = "INSERT INTO notes (body) VALUES (?)"
CODE = {"code.file.path": "/srv/app.py", "code.function.name": "note", "code.line.number": 9}


def make_items(settings: Any, requests: int) -> tuple[list[Any], list[Any]]:
    resource = build_resource(settings)
    spans = InMemorySpanExporter()
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    flask = tracer_provider.get_tracer("opentelemetry.instrumentation.flask", "0.66b1")
    sqla = tracer_provider.get_tracer("opentelemetry.instrumentation.sqlalchemy", "0.66b1")
    logs = InMemoryLogRecordExporter()
    logger_provider = LoggerProvider(resource=resource)
    logger_provider.add_log_record_processor(SimpleLogRecordProcessor(logs))
    logger = logger_provider.get_logger("bench.app")
    for i in range(requests):
        note = i % 500
        server_attrs = {
            "http.request.method": "GET",
            "url.scheme": "http",
            "server.address": "127.0.0.1",
            "server.port": 8000,
            "network.peer.address": "127.0.0.1",
            "network.peer.port": 40000 + i % 20000,
            "user_agent.original": "bench/1.0",
            "url.path": f"/api/v1/notes/{note}",
            "http.route": "/api/v1/notes/<int:note_id>",
            "network.protocol.version": "1.1",
            "http.response.status_code": 200,
        }
        with flask.start_as_current_span(
            "GET /api/v1/notes/<int:note_id>", kind=SpanKind.SERVER, attributes=server_attrs
        ):
            db = {"db.system.name": "sqlite", "db.namespace": "/tmp/bench.db", "net.peer.name": ""}
            with sqla.start_as_current_span("connect", kind=SpanKind.CLIENT, attributes=db):
                pass
            for statement in (
                "SELECT count(*) FROM notes WHERE id <= ?",
                "INSERT INTO notes (body) VALUES (?)",
            ):
                with sqla.start_as_current_span(
                    statement.split()[0] + " /tmp/bench.db",
                    kind=SpanKind.CLIENT,
                    attributes={**db, "db.query.text": statement},
                ):
                    pass
            logger.emit(
                body=f"note {note} read",
                severity_text="INFO",
                attributes={
                    "code.file.path": "/srv/app.py",
                    "code.function.name": "note",
                    "code.line.number": 9,
                },
            )
    return list(spans.get_finished_spans()), list(logs.get_finished_logs())


class UpstreamEncoded(SpanExporter):
    def __init__(self, stream: RotatingLineStream) -> None:
        self.stream = stream

    def export(self, spans: Any) -> SpanExportResult:
        self.stream.write(json.dumps(encode_spans(spans).to_dict(), separators=(",", ":")) + "\n")
        return SpanExportResult.SUCCESS


class UpstreamEncodedLogs(LogRecordExporter):
    def __init__(self, stream: RotatingLineStream) -> None:
        self.stream = stream

    def export(self, batch: Any) -> LogRecordExportResult:
        self.stream.write(json.dumps(encode_logs(batch).to_dict(), separators=(",", ":")) + "\n")
        return LogRecordExportResult.SUCCESS

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def per_request(run: Callable[[], None], requests: int, repeat: int) -> float:
    """Median CPU µs per request (process CPU: the export path runs on this thread)."""
    times = []
    for _ in range(repeat):
        began = time.process_time()
        run()
        times.append((time.process_time() - began) / requests * 1e6)
    return statistics.median(times)


def batches(items: list[Any]) -> list[list[Any]]:
    return [items[i : i + BATCH] for i in range(0, len(items), BATCH)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=4096)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        settings = load_settings({"OTEL_SECRETARY_DATA_DIR": str(folder)})
        masker = pii.build_masker(settings)
        spans, logs = make_items(settings, args.requests)
        span_batches, log_batches = batches(spans), batches(logs)

        def stream(name: str) -> RotatingLineStream:
            return RotatingLineStream(folder / name, 1 << 40, 1)

        upstream_spans = pii.MaskingSpanExporter(UpstreamEncoded(stream("u")), masker)
        ours_spans = JsonLinesSpanExporter(folder / "t", settings)
        collector = export_slices.BatchCollector(ours_spans)
        sliced_spans = export_slices.SlicedSpanExporter(pii.MaskingSpanExporter(collector, masker), collector)
        ours_logs = JsonLinesLogExporter(folder / "l", settings)
        log_collector = export_slices.LogBatchCollector(ours_logs)
        sliced_logs = export_slices.SlicedLogExporter(
            pii.MaskingLogRecordExporter(log_collector, masker), log_collector
        )
        upstream_logs = pii.MaskingLogRecordExporter(UpstreamEncodedLogs(stream("ul")), masker)
        rows = {
            "upstream-encoder spans": lambda: [upstream_spans.export(b) for b in span_batches],
            "ours spans": lambda: [sliced_spans.export(b) for b in span_batches],
            "upstream-encoder logs": lambda: [upstream_logs.export(b) for b in log_batches],
            "ours logs": lambda: [sliced_logs.export(b) for b in log_batches],
            "encode-only upstream spans": lambda: [
                json.dumps(encode_spans(b).to_dict(), separators=(",", ":")) for b in span_batches
            ],
            "encode-only ours spans": lambda: [
                _otlp_json.dumps_line(_otlp_json.spans_document(b)) for b in span_batches
            ],
            "encode-only upstream logs": lambda: [
                json.dumps(encode_logs(b).to_dict(), separators=(",", ":")) for b in log_batches
            ],
            "encode-only ours logs": lambda: [
                _otlp_json.dumps_line(_otlp_json.logs_document(b)) for b in log_batches
            ],
        }
        print(f"{'path':<30}{'µs per request':>16}")
        for name, run in rows.items():
            print(f"{name:<30}{per_request(run, args.requests, args.repeat):>16.1f}")
        line = (folder / "t").read_bytes().splitlines()[-1]
        size = len(line) / BATCH * 4
        print(f"(4 spans + 1 log record a request, batches of {BATCH}; {size:.0f} B of span JSON a request)")


if __name__ == "__main__":
    main()
