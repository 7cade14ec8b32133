"""Our direct OTLP-JSON encoder writes the very document upstream's encoder writes, for every value kind."""

from __future__ import annotations

import json
import logging

from opentelemetry._logs import SeverityNumber
from opentelemetry.exporter.otlp.json.common._log_encoder import encode_logs
from opentelemetry.exporter.otlp.json.common.trace_encoder import encode_spans
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from otel_secretary.sdk import _otlp_json
from tests.foundation.otlp_spans import VALUES, every_kind_of_span


def test_spans_document_equals_upstreams() -> None:
    spans = every_kind_of_span()
    ours = _otlp_json.spans_document(spans)
    upstream = encode_spans(spans).to_dict()
    assert ours == upstream
    assert len(ours["resourceSpans"]) == 2  # type: ignore[index]  # equal resources merged
    # Byte for byte, the line re-reads to the same document.
    assert json.loads(_otlp_json.dumps_line(ours)) == json.loads(json.dumps(upstream))


def test_logs_document_equals_upstreams() -> None:
    exporter = InMemoryLogRecordExporter()
    provider = LoggerProvider(resource=Resource({"service.name": "svc"}))
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    logger = provider.get_logger("app.logs", "0.1")
    tracer_provider = TracerProvider()
    with tracer_provider.get_tracer("t").start_as_current_span("s"):
        logger.emit(
            body="a line", severity_number=SeverityNumber.INFO, severity_text="INFO", attributes=VALUES
        )
    logger.emit(body={"structured": [1, "two"], "n": None}, event_name="app.event")
    logger.emit(body=None, severity_number=SeverityNumber.ERROR)
    provider.get_logger("other").emit(body=b"\x00bytes")
    records = list(exporter.get_finished_logs())
    assert _otlp_json.logs_document(records) == encode_logs(records).to_dict()


def test_an_unencodable_attribute_is_skipped_like_upstream() -> None:
    class Opaque:
        pass

    logging.getLogger("opentelemetry.exporter.otlp.json.common._internal").disabled = True
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with provider.get_tracer("t").start_as_current_span("s") as span:
        span._attributes._dict["bad"] = Opaque()  # type: ignore[union-attr]  # bypass SDK validation
        span._attributes._dict["good"] = "kept"  # type: ignore[union-attr]
    spans = list(exporter.get_finished_spans())
    ours = _otlp_json.spans_document(spans)
    assert ours == encode_spans(spans).to_dict()
    keys = [a["key"] for a in ours["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["attributes"]]  # type: ignore[index]
    assert keys == ["good"]


def test_nothing_to_encode_gives_none() -> None:
    assert _otlp_json.spans_document([]) is None
    assert _otlp_json.logs_document([]) is None
