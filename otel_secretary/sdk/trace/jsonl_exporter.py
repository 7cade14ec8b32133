"""The embedded default's span exporter: OTLP-JSON lines in a size-rotated local file.

Uses the upstream OTLP JSON encoder (``opentelemetry-exporter-otlp-json-common``, the one the upstream
file exporter uses) so each line is exactly what an OTLP/HTTP JSON request body would be (tools that
read OTLP JSON read ours), and adds rotation so a long-running app keeps a bounded amount of disk. The
line is written by :func:`write_batch`, not the upstream file exporter, because a failed write must be
rolled back, counted and said once on stderr, not logged with a traceback into the OTel log pipeline
(which, with the embedded default, writes to the same failing folder).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from opentelemetry.exporter.otlp.json.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from otel_secretary.sdk._rotating_stream import stream_for, write_batch
from otel_secretary.settings import Settings


class JsonLinesSpanExporter(SpanExporter):
    """``OTEL_TRACES_EXPORTER=secretary_jsonl``: ``<data_dir>/traces.jsonl`` unless a path is given."""

    def __init__(self, path: Path | None = None, settings: Settings | None = None) -> None:
        self.stream = stream_for("traces.jsonl", path, settings)

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        data = encode_spans(spans)
        body = data.to_dict() if data.resource_spans else None
        kept = write_batch(self.stream, "spans", body, len(spans))
        return SpanExportResult.SUCCESS if kept else SpanExportResult.FAILURE

    def shutdown(self) -> None:
        self.stream.close()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True
