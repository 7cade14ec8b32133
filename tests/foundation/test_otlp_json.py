"""Our direct OTLP-JSON encoder writes the very document upstream's encoder writes, for every value kind."""

from __future__ import annotations

import json
import logging
import math

from opentelemetry._logs import SeverityNumber
from opentelemetry.exporter.otlp.json.common._log_encoder import encode_logs
from opentelemetry.exporter.otlp.json.common.trace_encoder import encode_spans
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags, TraceState

from otel_secretary.sdk import _otlp_json

VALUES: dict[str, object] = {
    "s": 'text with ünïcode ✓ and "quotes"',
    "empty": "",
    "i": 42,
    "neg": -(2**62),
    "f": 1.5,
    "nan": math.nan,
    "inf": -math.inf,
    "b": True,
    "strs": ("a", "b"),
    "ints": [1, 2, 3],
    "floats": (0.25,),
    "bools": (True, False),
    "none_list": (),
}


def _spans() -> list:  # type: ignore[type-arg]
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource({"service.name": "svc", "deployment.environment.name": "t"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("scope.a", "1.2.3", schema_url="https://opentelemetry.io/schemas/1.30.0")
    other = provider.get_tracer("scope.b", attributes={"scope.attr": "x"})
    state = TraceState([("k", "v")])
    remote = SpanContext(0xABC, 0xDEF, is_remote=True, trace_flags=TraceFlags(1), trace_state=state)
    with tracer.start_as_current_span("server", kind=SpanKind.SERVER, attributes=VALUES) as server:
        server.add_event("evt", {"e": 1, "f": "g"})
        server.add_event("")
        with other.start_as_current_span("client", kind=SpanKind.CLIENT, links=[Link(remote, {"l": 1})]) as c:
            c.set_status(Status(StatusCode.ERROR, "boom"))
        with tracer.start_as_current_span("ok", kind=SpanKind.CONSUMER) as ok:
            ok.set_status(Status(StatusCode.OK))
    from opentelemetry import trace

    ctx = trace.set_span_in_context(trace.NonRecordingSpan(remote))
    with tracer.start_as_current_span("child-of-remote", context=ctx, kind=SpanKind.PRODUCER):
        pass
    # A second provider with an equal but distinct Resource: upstream merges them into one entry.
    provider2 = TracerProvider(resource=Resource({"service.name": "svc", "deployment.environment.name": "t"}))
    provider2.add_span_processor(SimpleSpanProcessor(exporter))
    with provider2.get_tracer("scope.a").start_as_current_span("p2"):
        pass
    provider3 = TracerProvider(resource=Resource({"service.name": "other"}, "https://schema/x"))
    provider3.add_span_processor(SimpleSpanProcessor(exporter))
    with provider3.get_tracer("scope.c").start_as_current_span("p3"):
        pass
    return list(exporter.get_finished_spans())


def test_spans_document_equals_upstreams() -> None:
    spans = _spans()
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
