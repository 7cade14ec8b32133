"""Our direct OTLP/protobuf span encoder writes the request upstream's encoder writes, for every value kind,
and our OTLP/HTTP exporter sends it with upstream's transport."""

from __future__ import annotations

from typing import Any

from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpanExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan, SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanContext, SpanKind

from otel_secretary import pipeline
from otel_secretary._internal.export_slices import SliceBudget
from otel_secretary.sdk._otlp_proto import SpanEncoder
from otel_secretary.sdk.trace.otlp_http_exporter import OtlpHttpSpanExporter
from otel_secretary.settings import Settings
from tests.foundation.otlp_spans import every_kind_of_span
from tests.support.otlp_receiver import OtlpReceiver


def _parsed(body: bytes) -> bytes:
    """A canonical form to compare: parsed by upstream's generated classes and written deterministically
    (field order and NaN compare as bytes, where message equality would not)."""
    return ExportTraceServiceRequest.FromString(body).SerializeToString(deterministic=True)


def _upstream(spans: list[ReadableSpan]) -> bytes:
    return encode_spans(spans).SerializeToString(deterministic=True)


def test_request_equals_upstreams_for_every_kind_of_value() -> None:
    spans = every_kind_of_span()
    encoder = SpanEncoder()
    body = encoder.request(spans)
    assert _parsed(body) == _upstream(spans)
    assert len(ExportTraceServiceRequest.FromString(body).resource_spans) == 2  # equal resources merged
    # The second time the pairs come from the cache, and in slices: the same request.
    assert _parsed(encoder.request(spans, SliceBudget())) == _upstream(spans)


def _span(attributes: dict[str, Any], **kwargs: Any) -> ReadableSpan:
    return ReadableSpan(
        name="s",
        context=SpanContext(1, 2, is_remote=False),
        attributes=attributes,
        resource=Resource({"service.name": "svc"}),
        start_time=1,
        end_time=2,
        **kwargs,
    )


def test_equal_pairs_of_different_types_are_not_confused_by_the_cache() -> None:
    """``("k", 1)`` and ``("k", True)`` are one dict key; they encode differently."""
    encoder = SpanEncoder()
    spans = [_span({"k": 1}), _span({"k": True}), _span({"k": 1.0}), _span({"k": "1"}), _span({"k": 1})]
    assert _parsed(encoder.request(spans)) == _upstream(spans)


def test_values_only_a_readable_span_can_hold() -> None:
    """Built directly (no SDK validation): bytes, mappings, None in a sequence, events with and without
    a timestamp, and a value upstream cannot encode, which both skip."""
    spans = [
        _span(
            {"bytes": b"\x00\x01", "map": {"a": 1, "b": {"c": "d"}}, "mixed": ("a", None), "none": None},
            events=[Event("e", {"x": "y"}, timestamp=5), Event("", {}, timestamp=0)],
        ),
        _span({"ok": "fine", "bad": object(), "after": 2}),
    ]
    assert _parsed(SpanEncoder().request(spans)) == _upstream(spans)


def test_dropped_counts_are_kept() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(span_limits=SpanLimits(max_span_attributes=2, max_events=1, max_links=1))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with provider.get_tracer("t").start_as_current_span("s", attributes={"a": 1, "b": 2, "c": 3}) as span:
        span.add_event("one")
        span.add_event("two")
    spans = list(exporter.get_finished_spans())
    assert spans[0].dropped_attributes == 1 and spans[0].dropped_events == 1
    assert _parsed(SpanEncoder().request(spans)) == _upstream(spans)


def test_exporter_sends_our_encoding_with_upstreams_settings() -> None:
    with OtlpReceiver() as receiver:
        exporter = OtlpHttpSpanExporter(endpoint=f"{receiver.endpoint}/v1/traces", headers={"x-tenant": "t1"})
        assert exporter.encodes_itself
        spans = every_kind_of_span()
        assert exporter.export(spans) is SpanExportResult.SUCCESS
        (request,) = receiver.requests["/v1/traces"]
        (headers,) = receiver.headers
        assert headers["content-type"] == "application/x-protobuf"
        assert headers["x-tenant"] == "t1"
        assert request.SerializeToString(deterministic=True) == _upstream(spans)
        exporter.shutdown()
        assert exporter.export(spans) is SpanExportResult.FAILURE  # after shutdown, as upstream


def test_exporter_reports_a_refused_request() -> None:
    exporter = OtlpHttpSpanExporter(endpoint="http://127.0.0.1:9/v1/traces", timeout=1)  # nothing listens
    assert exporter.export([_span({"a": "b"})]) is SpanExportResult.FAILURE


def test_pipeline_builds_ours_for_upstreams_http_exporter_only() -> None:
    settings = Settings()
    assert pipeline._span_exporter_factory(OTLPSpanExporter, settings) is OtlpHttpSpanExporter
    assert pipeline._span_exporter_factory(GrpcSpanExporter, settings) is GrpcSpanExporter


def test_remote_parent_and_kinds() -> None:
    parent = SpanContext(7, 8, is_remote=True)
    spans = [_span({}, parent=parent, kind=kind) for kind in SpanKind]
    assert _parsed(SpanEncoder().request(spans)) == _upstream(spans)
