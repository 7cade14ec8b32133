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

from otel_secretary.sdk._jsonl_exporter import JsonLinesExporterCore
from otel_secretary.sdk._otlp_json import logs_document
from otel_secretary.settings import Settings


class JsonLinesLogExporter(JsonLinesExporterCore[ReadableLogRecord], LogRecordExporter):
    """``OTEL_LOGS_EXPORTER=secretary_jsonl``: ``<data_dir>/logs.jsonl`` unless a path is given."""

    def __init__(self, path: Path | None = None, settings: Settings | None = None) -> None:
        super().__init__("logs.jsonl", "logs", logs_document, path, settings)

    def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
        return LogRecordExportResult.SUCCESS if self._write(batch) else LogRecordExportResult.FAILURE
