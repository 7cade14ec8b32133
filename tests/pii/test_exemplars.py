"""Exemplars (issue 17 item 1) carry the attributes a view dropped: the masker covers them too."""

from __future__ import annotations

from typing import Any

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    MetricExporter,
    MetricExportResult,
    MetricsData,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.metrics.view import View
from opentelemetry.sdk.trace import TracerProvider

from otel_secretary.pii import Masker, MaskingMetricExporter


class _Keep(MetricExporter):
    def __init__(self) -> None:
        super().__init__()
        self.batches: list[MetricsData] = []

    def export(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> MetricExportResult:
        self.batches.append(metrics_data)
        return MetricExportResult.SUCCESS

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return True

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        return None


def test_exemplar_filtered_attributes_are_masked_and_the_trace_id_kept() -> None:
    kept = _Keep()
    reader = PeriodicExportingMetricReader(
        MaskingMetricExporter(kept, Masker()), export_interval_millis=3_600_000
    )
    provider = MeterProvider(
        metric_readers=[reader], views=[View(instrument_name="req.duration", attribute_keys={"route"})]
    )
    histogram = provider.get_meter("t").create_histogram("req.duration", unit="s")
    tracer = TracerProvider().get_tracer("t")
    with tracer.start_as_current_span("GET /x") as span:
        histogram.record(0.2, {"route": "/x", "customer": "jane.doe@example.com"})
        trace_id = span.get_span_context().trace_id
    reader.force_flush()
    provider.shutdown()
    (point,) = [
        p
        for batch in kept.batches[:1]
        for rm in batch.resource_metrics
        for sm in rm.scope_metrics
        for m in sm.metrics
        for p in m.data.data_points
    ]
    assert dict(point.attributes or {}) == {"route": "/x"}
    exemplars = [e for e in point.exemplars if e.trace_id == trace_id]
    assert exemplars, point.exemplars
    assert dict(exemplars[0].filtered_attributes or {}) == {"customer": "<email>"}
