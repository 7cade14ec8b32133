"""The embedded default's log exporter: OTLP-JSON lines in ``<data_dir>/logs.jsonl``, size-rotated."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import IO, cast

from opentelemetry.exporter.otlp.json.file._log_exporter import FileLogExporter
from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult

from otel_secretary.sdk._rotating_stream import stream_for
from otel_secretary.settings import Settings


class JsonLinesLogExporter(LogRecordExporter):
    """``OTEL_LOGS_EXPORTER=secretary_jsonl``."""

    def __init__(self, path: Path | None = None, settings: Settings | None = None) -> None:
        self.stream = stream_for("logs.jsonl", path, settings)
        self._delegate = FileLogExporter(stream=cast(IO[str], self.stream))

    def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
        return self._delegate.export(batch)

    def shutdown(self) -> None:
        self._delegate.shutdown()
        self.stream.close()

    def force_flush(self, timeout_millis: int = 10_000) -> bool:
        return True
