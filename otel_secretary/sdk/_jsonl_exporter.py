"""The one core of the JSON-lines exporters (spans and logs): document, write, close.

Each signal's exporter names its file, its signal (for the drop reports) and its OTLP-JSON document
builder; everything else, the rotating stream, the GIL-releasing slice budget and the all-or-nothing
write that counts and says a failure once, is this class, so the two files cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Generic, TypeVar

from otel_secretary._internal.export_slices import SliceBudget
from otel_secretary.sdk._rotating_stream import stream_for, write_batch
from otel_secretary.settings import Settings

T = TypeVar("T")


class JsonLinesExporterCore(Generic[T]):
    """Base of :class:`~otel_secretary.sdk.trace.jsonl_exporter.JsonLinesSpanExporter` and its log twin."""

    def __init__(
        self,
        file_name: str,
        signal: str,
        document: Callable[[Sequence[T], SliceBudget | None], dict[str, Any] | None],
        path: Path | None,
        settings: Settings | None,
    ) -> None:
        self.stream = stream_for(file_name, path, settings)
        self._signal = signal
        self._document = document
        self._budget = SliceBudget()

    def _write(self, batch: Sequence[T]) -> bool:
        """Whether the batch's line was kept (a failed write is rolled back, counted and said once)."""
        return write_batch(self.stream, self._signal, self._document(batch, self._budget), len(batch))

    def shutdown(self) -> None:
        self.stream.close()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True  # every export writes its line before returning
