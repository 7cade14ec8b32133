"""The embedded default's span exporter: OTLP-JSON lines in a size-rotated local file.

Each line is exactly what upstream's OTLP JSON encoder (the one the upstream file exporter uses) would
write for the batch, an OTLP/HTTP JSON request body, so tools that read OTLP JSON read ours; it is built
by :mod:`otel_secretary.sdk._otlp_json`, several times cheaper, in slices that release the GIL
(:mod:`otel_secretary._internal.export_slices`). Rotation keeps a long-running app's disk use bounded. The
line is written by :func:`write_batch`, not the upstream file exporter, because a failed write must be
rolled back, counted and said once on stderr, not logged with a traceback into the OTel log pipeline
(which, with the embedded default, writes to the same failing folder).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from otel_secretary.sdk._jsonl_exporter import JsonLinesExporterCore
from otel_secretary.sdk._otlp_json import spans_document
from otel_secretary.settings import Settings


class JsonLinesSpanExporter(JsonLinesExporterCore[ReadableSpan], SpanExporter):
    """``OTEL_TRACES_EXPORTER=secretary_jsonl``: ``<data_dir>/traces.jsonl`` unless a path is given."""

    def __init__(self, path: Path | None = None, settings: Settings | None = None) -> None:
        super().__init__("traces.jsonl", "spans", spans_document, path, settings)

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS if self._write(spans) else SpanExportResult.FAILURE
