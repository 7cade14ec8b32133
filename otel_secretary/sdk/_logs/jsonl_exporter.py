"""The embedded default's log exporter: OTLP-JSON lines in ``<data_dir>/logs.jsonl``, size-rotated.

Written like the span file (see :mod:`otel_secretary.sdk.trace.jsonl_exporter`): upstream's document
from our cheaper encoder, our all-or-nothing write, and failures counted and said once instead of
logged into the failing sink.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult

from otel_secretary._internal.export_slices import SliceBudget
from otel_secretary.sdk._otlp_json import logs_document
from otel_secretary.sdk._rotating_stream import stream_for, write_batch
from otel_secretary.settings import Settings


class JsonLinesLogExporter(LogRecordExporter):
    """``OTEL_LOGS_EXPORTER=secretary_jsonl``."""

    def __init__(self, path: Path | None = None, settings: Settings | None = None) -> None:
        self.stream = stream_for("logs.jsonl", path, settings)
        self._budget = SliceBudget()

    def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
        body = logs_document(batch, self._budget)
        kept = write_batch(self.stream, "logs", body, len(batch))
        return LogRecordExportResult.SUCCESS if kept else LogRecordExportResult.FAILURE

    def shutdown(self) -> None:
        self.stream.close()

    def force_flush(self, timeout_millis: int = 10_000) -> bool:
        return True
