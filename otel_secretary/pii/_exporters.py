"""Exporter wrappers: the only way our pipeline hands telemetry to an exporter.

``pipeline.build`` wraps every span, log and push-metric exporter in these, and uses the masking
Prometheus reader for ``/metrics``; so no configured exporter ever receives an unmasked item.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult
from opentelemetry.sdk.metrics.export import MetricExporter, MetricExportResult, MetricsData
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from otel_secretary._internal.self_monitoring import report_internal_error
from otel_secretary.pii._masker import Masker
from otel_secretary.pii._signals import ResourceMasker, mask_log_record, mask_metrics, mask_span

_log = logging.getLogger(__name__)


def _trace_id(span: ReadableSpan) -> int:
    context = span.context
    return context.trace_id if context is not None else 0


class MaskingSpanExporter(SpanExporter):
    """Masks every span (name, attributes, events, links, status, resource) before ``delegate`` sees it."""

    def __init__(self, delegate: SpanExporter, masker: Masker) -> None:
        self.delegate = delegate
        self._masker = masker
        self._resources = ResourceMasker(masker)

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        masked: list[ReadableSpan] = []
        masker = self._masker
        # Names in structured places of the whole batch first (attendees, name keys, e-mail locals), so a
        # child span's name that repeats its parent's attendee is masked even though it ended first.
        # A LiveNameLearning processor has learned them already, when each span ended.
        for span in spans if masker.live_learning is None else ():
            try:
                trace_id = _trace_id(span)
                masker.learn(trace_id, span.attributes)
                for event in span.events:
                    masker.learn(trace_id, event.attributes)
            except Exception:  # learning is best effort; masking below still fails closed
                continue
        for span in spans:
            try:
                with masker.trace_scope(_trace_id(span)):
                    masked.append(mask_span(masker, span, self._resources))
            except Exception:
                # Fail closed: a span we cannot copy is dropped, never exported raw.
                self._masker.note_failure("traces")
        if not masked:
            return SpanExportResult.SUCCESS
        return self.delegate.export(masked)

    def shutdown(self) -> None:
        self.delegate.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.delegate.force_flush(timeout_millis)


class MaskingLogRecordExporter(LogRecordExporter):
    """Masks body, attributes (exception.* included), event name and resource of every log record."""

    def __init__(self, delegate: LogRecordExporter, masker: Masker) -> None:
        self.delegate = delegate
        self._masker = masker
        self._resources = ResourceMasker(masker)

    def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
        masked: list[ReadableLogRecord] = []
        masker = self._masker
        if masker.live_learning is not None:
            # The spans of these traces that are still open (a request's lines go out before it ends).
            try:
                masker.live_learning.learn_open_spans(
                    {record.log_record.trace_id for record in batch if record.log_record.trace_id}
                )
            except Exception as exc:  # learning is best effort; masking below still fails closed
                report_internal_error("pii.learn_open_spans", exc)
        for record in batch:
            try:
                masker.learn(record.log_record.trace_id or 0, record.log_record.attributes)
            except Exception:  # learning is best effort; masking below still fails closed
                continue
        for record in batch:
            try:
                with masker.trace_scope(record.log_record.trace_id):
                    masked.append(mask_log_record(masker, record, self._resources))
            except Exception:
                self._masker.note_failure("logs")
        if not masked:
            return LogRecordExportResult.SUCCESS
        return self.delegate.export(masked)

    def shutdown(self) -> None:
        self.delegate.shutdown()  # type: ignore[no-untyped-call]

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.delegate.force_flush(timeout_millis)


class MaskingMetricExporter(MetricExporter):
    """Masks data-point attributes (labels) and resource; keeps the delegate's temporality/aggregation."""

    def __init__(self, delegate: MetricExporter, masker: Masker) -> None:
        super().__init__(
            preferred_temporality=delegate._preferred_temporality,
            preferred_aggregation=delegate._preferred_aggregation,
        )
        self.delegate = delegate
        self._masker = masker
        self._resources = ResourceMasker(masker)

    def export(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> MetricExportResult:
        try:
            masked = mask_metrics(self._masker, metrics_data, self._resources)
        except Exception:
            self._masker.note_failure("metrics")
            return MetricExportResult.FAILURE
        return self.delegate.export(masked, timeout_millis=timeout_millis, **kwargs)

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return self.delegate.force_flush(timeout_millis)

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        self.delegate.shutdown(timeout_millis=timeout_millis, **kwargs)


class MaskingPrometheusMetricReader(PrometheusMetricReader):
    """The in-process ``/metrics`` reader; what it serves has been through the masker."""

    def __init__(self, masker: Masker, **prometheus_reader_kwargs: Any) -> None:
        self._pii_masker = masker
        self._pii_resources = ResourceMasker(masker)
        super().__init__(**prometheus_reader_kwargs)

    def _receive_metrics(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> None:
        if metrics_data is None:
            return
        try:
            masked = mask_metrics(self._pii_masker, metrics_data, self._pii_resources)
        except Exception:
            self._pii_masker.note_failure("metrics")
            return
        super()._receive_metrics(masked, timeout_millis, **kwargs)
