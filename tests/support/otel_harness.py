"""Local OTel SDK providers with in-memory exporters, and small readers for what they captured.

Tests never set global providers: each builds its own here and hands it to the code under test.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.sdk._logs import LoggerProvider, LogRecordLimits
from opentelemetry.sdk._logs.export import (
    BatchLogRecordProcessor,
    InMemoryLogRecordExporter,
    SimpleLogRecordProcessor,
)
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import HistogramDataPoint, InMemoryMetricReader, Metric
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from otel_secretary.pii import Masker, MaskingLogRecordExporter, MaskingSpanExporter


@dataclass
class Harness:
    tracer_provider: TracerProvider
    meter_provider: MeterProvider
    exporter: InMemorySpanExporter
    reader: InMemoryMetricReader
    _metrics_cache: list[Metric] = field(default_factory=list)

    def spans(self, name: str | None = None) -> list[ReadableSpan]:
        spans = list(self.exporter.get_finished_spans())
        return [s for s in spans if name is None or s.name == name]

    def metrics(self) -> dict[str, Metric]:
        """Every metric collected so far, by name (cumulative temporality)."""
        data = self.reader.get_metrics_data()
        result: dict[str, Metric] = {}
        if data is None:
            return result
        for resource_metrics in data.resource_metrics:
            for scope_metrics in resource_metrics.scope_metrics:
                for metric in scope_metrics.metrics:
                    result[metric.name] = metric
        return result

    def metric_streams(self, metric_name: str) -> list[Metric]:
        """``metric_name`` once per instrumentation scope, for checks (unit, description) each must pass;
        :meth:`metrics` keeps only the last scope's."""
        data = self.reader.get_metrics_data()
        if data is None:
            return []
        return [
            metric
            for resource_metrics in data.resource_metrics
            for scope_metrics in resource_metrics.scope_metrics
            for metric in scope_metrics.metrics
            if metric.name == metric_name
        ]

    def points(self, metric_name: str) -> list[Any]:
        """Points of ``metric_name`` from every instrumentation scope."""
        return [point for _scope, point in self.scoped_points(metric_name)]

    def scoped_points(self, metric_name: str) -> list[tuple[str, Any]]:
        return scoped_points(self.reader, metric_name)

    def histogram(self, metric_name: str, **attributes: Any) -> HistogramDataPoint:
        """The single histogram point whose attributes include ``attributes`` (dots as __ in keys)."""
        wanted = {k.replace("__", "."): v for k, v in attributes.items()}
        matches = [
            p for p in self.points(metric_name) if all(p.attributes.get(k) == v for k, v in wanted.items())
        ]
        assert len(matches) == 1, f"{metric_name}: expected one point with {wanted}, got {matches}"
        point = matches[0]
        assert isinstance(point, HistogramDataPoint)
        return point

    def shutdown(self) -> None:
        self.tracer_provider.shutdown()
        self.meter_provider.shutdown()


def make_harness(resource: Resource | None = None) -> Iterator[Harness]:
    """``resource`` for code that selects by it (a rule's ``service:``); the SDK default otherwise."""
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader], resource=resource)
    harness = Harness(tracer_provider, meter_provider, exporter, reader)
    try:
        yield harness
    finally:
        harness.shutdown()


#: ``with open_harness() as otel:`` where the ``otel`` fixture cannot serve: a helper that makes spans,
#: a fixture that wraps the harness in something else.
open_harness = contextmanager(make_harness)


def masked_spans(
    masker: Masker, *, resource: Resource | None = None, batch: bool = False
) -> tuple[TracerProvider, InMemorySpanExporter]:
    """A tracer provider exporting through ``MaskingSpanExporter`` into memory: what the spans look like
    once they leave the process. ``batch`` keeps a whole trace in one export, as the SDK's default delays
    do, so masking can use what a later span of the trace taught it; read after ``force_flush()``."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=resource)
    masking = MaskingSpanExporter(exporter, masker)
    provider.add_span_processor(BatchSpanProcessor(masking) if batch else SimpleSpanProcessor(masking))
    return provider, exporter


def masked_logs(
    masker: Masker,
    *,
    resource: Resource | None = None,
    limits: LogRecordLimits | None = None,
    batch: bool = False,
) -> tuple[LoggerProvider, InMemoryLogRecordExporter]:
    """The log twin of :func:`masked_spans`: a logger provider exporting through
    ``MaskingLogRecordExporter`` into memory."""
    exporter = InMemoryLogRecordExporter()
    provider = LoggerProvider(resource=resource, log_record_limits=limits)
    masking = MaskingLogRecordExporter(exporter, masker)
    provider.add_log_record_processor(
        BatchLogRecordProcessor(masking) if batch else SimpleLogRecordProcessor(masking)
    )
    return provider, exporter


def scoped_points(reader: InMemoryMetricReader, metric_name: str) -> list[tuple[str, Any]]:
    """(instrumentation scope, data point) of ``metric_name``, from what ``reader`` collects now."""
    data = reader.get_metrics_data()
    result: list[tuple[str, Any]] = []
    if data is None:
        return result
    for resource_metrics in data.resource_metrics:
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                if metric.name == metric_name:
                    result.extend((scope_metrics.scope.name, p) for p in metric.data.data_points)
    return result
