"""Makes lost telemetry visible: wrappers that turn a failed export into a count and one stderr line.

Upstream exporters report failures only through ``logging``, and our pipeline sends ``logging`` into
the OTel log exporter, often the very exporter that is failing: with a dead collector nothing is said
anywhere. These wrappers sit around each exporter (inside its batch processor) and call
:func:`~otel_secretary._internal.self_monitoring.report_dropped` with the number of items lost, naming
the exporter and its last warning (endpoint, status, timeout; never telemetry content). Items dropped
before export because a batch queue was full are caught from the SDK's own "Queue full" warning.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any

from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult
from opentelemetry.sdk.metrics.export import MetricExporter, MetricExportResult, MetricsData
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from otel_secretary._internal.self_monitoring import report_dropped, report_recovered

_EXPORTER_LOGGER = "opentelemetry.exporter"
_SDK_BATCH_LOGGER = "opentelemetry.sdk._shared_internal"
_install_lock = threading.Lock()
_installed = False


class _LastWarning(logging.Handler):
    """Keeps the latest warning an upstream exporter logged, so our one line can say *why*."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.message = ""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.message = record.getMessage()[:200]
        except Exception:  # a bad format string in someone's log call must not break export
            self.message = str(record.msg)[:200]


class _QueueFullWatch(logging.Filter):
    """The SDK's batch processors say "Queue full, dropping <Span|Log>" (then de-duplicate the
    message for 20 s); counting each call gives the number of items the queue refused."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg == "Queue full, dropping %s." and record.args:
            what = str(record.args[0] if isinstance(record.args, tuple) else record.args).lower()
            signal = "logs" if what.startswith("log") else "spans"
            report_dropped(signal, "queue_full", 1, "the batch queue is full (OTEL_SECRETARY_MAX_QUEUE_SIZE)")
        return True


_last_warning = _LastWarning()


def install_watchers() -> None:
    """Idempotent: attach the warning recorder and the queue-full watch (first in the filter list,
    ahead of the SDK's own de-duplicating filter, so every dropped item is counted)."""
    global _installed
    with _install_lock:
        if _installed:
            return
        _installed = True
        logging.getLogger(_EXPORTER_LOGGER).addHandler(_last_warning)
        logging.getLogger(_SDK_BATCH_LOGGER).filters.insert(0, _QueueFullWatch())


def _detail(name: str, exc: BaseException | None) -> str:
    why = f"{type(exc).__name__}: {exc}" if exc is not None else _last_warning.message or "export failed"
    return f"{name} could not deliver ({why})"


class ReportingSpanExporter(SpanExporter):
    def __init__(self, delegate: SpanExporter, name: str) -> None:
        self.delegate, self.name = delegate, name

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        error: BaseException | None = None
        try:
            result = self.delegate.export(spans)
        except Exception as exc:
            result, error = SpanExportResult.FAILURE, exc
        if result is SpanExportResult.FAILURE:
            report_dropped("spans", "export_failed", len(spans), _detail(self.name, error))
        else:
            report_recovered("spans", "export_failed")
        return result

    def shutdown(self) -> None:
        self.delegate.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.delegate.force_flush(timeout_millis)


class ReportingLogExporter(LogRecordExporter):
    def __init__(self, delegate: LogRecordExporter, name: str) -> None:
        self.delegate, self.name = delegate, name

    def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
        error: BaseException | None = None
        try:
            result = self.delegate.export(batch)
        except Exception as exc:
            result, error = LogRecordExportResult.FAILURE, exc
        if result is LogRecordExportResult.FAILURE:
            report_dropped("logs", "export_failed", len(batch), _detail(self.name, error))
        else:
            report_recovered("logs", "export_failed")
        return result

    def shutdown(self) -> None:
        self.delegate.shutdown()  # type: ignore[no-untyped-call]  # upstream leaves it unannotated

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.delegate.force_flush(timeout_millis)


def _points(data: MetricsData) -> int:
    return sum(
        len(metric.data.data_points)
        for rm in data.resource_metrics
        for sm in rm.scope_metrics
        for metric in sm.metrics
    )


class ReportingMetricExporter(MetricExporter):
    def __init__(self, delegate: MetricExporter, name: str) -> None:
        super().__init__(
            preferred_temporality=delegate._preferred_temporality,
            preferred_aggregation=delegate._preferred_aggregation,
        )
        self.delegate, self.name = delegate, name

    def export(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> MetricExportResult:
        error: BaseException | None = None
        try:
            result = self.delegate.export(metrics_data, timeout_millis=timeout_millis, **kwargs)
        except Exception as exc:
            result, error = MetricExportResult.FAILURE, exc
        if result is MetricExportResult.FAILURE:
            report_dropped("metrics", "export_failed", _points(metrics_data), _detail(self.name, error))
        else:
            report_recovered("metrics", "export_failed")
        return result

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return self.delegate.force_flush(timeout_millis)

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        self.delegate.shutdown(timeout_millis=timeout_millis, **kwargs)


def _reports_itself(exporter_class: type[Any]) -> bool:
    # Our JSON-lines exporters already say *why* (disk full, unwritable) in their own words.
    return exporter_class.__module__.startswith("otel_secretary.")


def for_spans(exporter: SpanExporter, exporter_class: type[Any]) -> SpanExporter:
    install_watchers()
    if _reports_itself(exporter_class):
        return exporter
    return ReportingSpanExporter(exporter, exporter_class.__name__)


def for_logs(exporter: LogRecordExporter, exporter_class: type[Any]) -> LogRecordExporter:
    install_watchers()
    if _reports_itself(exporter_class):
        return exporter
    return ReportingLogExporter(exporter, exporter_class.__name__)


def for_metrics(exporter: MetricExporter, exporter_class: type[Any]) -> MetricExporter:
    install_watchers()
    if _reports_itself(exporter_class):
        return exporter
    return ReportingMetricExporter(exporter, exporter_class.__name__)
