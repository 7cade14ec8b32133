"""The embedded default's span exporter: OTLP-JSON lines in a size-rotated local file.

Reuses the upstream ``opentelemetry-exporter-otlp-json-file`` encoder so each line is exactly what an
OTLP/HTTP JSON request body would be (tools that read OTLP JSON read ours), and adds rotation so a
long-running app keeps a bounded amount of disk.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import IO, cast

from opentelemetry.exporter.otlp.json.file.trace_exporter import FileSpanExporter
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from otel_secretary.sdk._rotating_stream import stream_for
from otel_secretary.settings import Settings


class JsonLinesSpanExporter(SpanExporter):
    """``OTEL_TRACES_EXPORTER=secretary_jsonl``: ``<data_dir>/traces.jsonl`` unless a path is given."""

    def __init__(self, path: Path | None = None, settings: Settings | None = None) -> None:
        self.stream = stream_for("traces.jsonl", path, settings)
        self._delegate = FileSpanExporter(stream=cast(IO[str], self.stream))

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return self._delegate.export(spans)

    def shutdown(self) -> None:
        self._delegate.shutdown()
        self.stream.close()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True
