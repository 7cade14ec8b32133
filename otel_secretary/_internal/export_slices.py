"""Export work in short slices, so no request waits behind the export thread.

The batch processors hand an exporter up to 512 spans or log records at once. Masking and encoding them is
pure Python: the export thread holds the GIL for tens of milliseconds, and a request thread that gave the
GIL up for I/O (a socket read, a SQLite call) waits for it each time, up to the interpreter's 5 ms switch
interval per wait. Under an open-loop load that is what set our p99 (issue 15: 2.6x upstream's).

So a batch is masked and encoded in slices of about :data:`SLICE_SECONDS` of work, with ``time.sleep(0)``
between them: the GIL is released and a waiting request thread takes it. The slice length adapts to the
measured CPU cost per item (a moving average of ``thread_time``), so slow items shrink the next slices.

Masking in slices must not weaken it: the masker learns the names in a trace's structured places (attendee
keys, e-mail local parts) from all of a batch's items of that trace before masking any of them, because a
child span ends (and is batched) before the parent that carries the attendee. So a slice holds whole
traces: a batch is grouped by trace id (order kept within a trace) and cut only between traces, and
each slice goes through the masking exporter as a batch of its own. The masked slices are gathered again
(:class:`BatchCollector`) so the exporter still gets one call per batch: one HTTP request for OTLP, one
line in the JSON-lines files.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

T = TypeVar("T")

SLICE_SECONDS = 0.001
"""CPU work between two GIL releases: a request waits at most about this long per GIL hand-over instead
of up to the 5 ms switch interval, many times over. Shorter slices cost CPU: each release is a trip
through the scheduler, and 0.3 ms slices added ~30% to the export thread's CPU (benchmarks/bench_export.py)
where 1 ms slices added ~5%."""

_FIRST_SLICE = 4
_MAX_SLICE = 512


class SliceBudget:
    """How many items fit in one slice, from the moving average of the cost per item so far."""

    def __init__(self, seconds: float = SLICE_SECONDS) -> None:
        self.seconds = seconds
        self._per_item = 0.0

    def size(self) -> int:
        if self._per_item <= 0.0:
            return _FIRST_SLICE
        return max(1, min(_MAX_SLICE, int(self.seconds / self._per_item)))

    def observe(self, items: int, elapsed: float) -> None:
        if items <= 0:
            return
        cost = elapsed / items
        self._per_item = cost if self._per_item <= 0.0 else 0.7 * self._per_item + 0.3 * cost


def slices(items: Sequence[T], budget: SliceBudget) -> Iterator[Sequence[T]]:
    """``items`` in consecutive slices; the time the caller spends on each slice sizes the next, and the
    GIL is released between slices."""
    return grouped_slices([[item] for item in items], budget)


def grouped_slices(groups: Sequence[list[T]], budget: SliceBudget) -> Iterator[list[T]]:
    """Slices made of whole ``groups`` (a group larger than a slice is one slice on its own)."""
    index, total = 0, len(groups)
    while index < total:
        size = budget.size()
        chunk = list(groups[index])
        index += 1
        while index < total and len(chunk) + len(groups[index]) <= size:
            chunk.extend(groups[index])
            index += 1
        began = time.thread_time()
        yield chunk
        budget.observe(len(chunk), time.thread_time() - began)
        if index < total:
            time.sleep(0)  # releases the GIL; a thread waiting for it runs now


def by_trace(items: Sequence[T], trace_of: Callable[[T], int]) -> list[list[T]]:
    """``items`` grouped by trace in first-seen order, each trace's items in their order; items outside a
    trace (id 0) stay groups of one."""
    groups: list[list[T]] = []
    traces: dict[int, list[T]] = {}
    for item in items:
        trace_id = trace_of(item)
        if not trace_id:
            groups.append([item])
            continue
        group = traces.get(trace_id)
        if group is None:
            group = traces[trace_id] = []
            groups.append(group)
        group.append(item)
    return groups


class _Gathering:
    def __init__(self) -> None:
        self.items: list[Any] = []


class _Collector:
    """Shared by the span and log collectors: while a batch is sliced, keeps what the masker hands on."""

    def __init__(self) -> None:
        self._local = threading.local()

    def _gathering(self) -> _Gathering | None:
        return getattr(self._local, "gathering", None)

    def begin(self) -> None:
        self._local.gathering = _Gathering()

    def take(self) -> list[Any]:
        gathering = self._gathering()
        self._local.gathering = None
        return gathering.items if gathering is not None else []


class BatchCollector(SpanExporter):
    """Sits between the masker and the real span exporter: outside a sliced batch it passes spans on;
    inside one it gathers the masked slices for :meth:`release` to export in one call."""

    def __init__(self, delegate: SpanExporter) -> None:
        self.delegate = delegate
        self._collector = _Collector()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        gathering = self._collector._gathering()
        if gathering is None:
            return self.delegate.export(spans)
        gathering.items.extend(spans)
        return SpanExportResult.SUCCESS

    def begin(self) -> None:
        self._collector.begin()

    def release(self) -> SpanExportResult:
        items = self._collector.take()
        return self.delegate.export(items) if items else SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        self.delegate.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.delegate.force_flush(timeout_millis)


class LogBatchCollector(LogRecordExporter):
    """:class:`BatchCollector` for log records."""

    def __init__(self, delegate: LogRecordExporter) -> None:
        self.delegate = delegate
        self._collector = _Collector()

    def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
        gathering = self._collector._gathering()
        if gathering is None:
            return self.delegate.export(batch)
        gathering.items.extend(batch)
        return LogRecordExportResult.SUCCESS

    def begin(self) -> None:
        self._collector.begin()

    def release(self) -> LogRecordExportResult:
        items = self._collector.take()
        return self.delegate.export(items) if items else LogRecordExportResult.SUCCESS

    def shutdown(self) -> None:
        self.delegate.shutdown()  # type: ignore[no-untyped-call]  # upstream leaves it unannotated

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.delegate.force_flush(timeout_millis)


def _span_trace(span: ReadableSpan) -> int:
    context = span.context
    return context.trace_id if context is not None else 0


def _log_trace(record: ReadableLogRecord) -> int:
    return record.log_record.trace_id or 0


class SlicedSpanExporter(SpanExporter):
    """Masks a batch in slices through ``masking`` (whose delegate is ``collector``), then exports the
    gathered masked batch once. A slice holds whole traces (see the module doc)."""

    def __init__(self, masking: SpanExporter, collector: BatchCollector) -> None:
        self.masking, self.collector = masking, collector
        self.budget = SliceBudget()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if len(spans) <= self.budget.size():
            began = time.thread_time()
            result = self.masking.export(spans)
            self.budget.observe(len(spans), time.thread_time() - began)
            return result
        self.collector.begin()
        try:
            for chunk in grouped_slices(by_trace(spans, _span_trace), self.budget):
                self.masking.export(chunk)
        finally:
            gathered = self.collector.release()
        return gathered

    def shutdown(self) -> None:
        self.masking.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.masking.force_flush(timeout_millis)


class SlicedLogExporter(LogRecordExporter):
    """:class:`SlicedSpanExporter` for log records."""

    def __init__(self, masking: LogRecordExporter, collector: LogBatchCollector) -> None:
        self.masking, self.collector = masking, collector
        self.budget = SliceBudget()

    def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
        if len(batch) <= self.budget.size():
            began = time.thread_time()
            result = self.masking.export(batch)
            self.budget.observe(len(batch), time.thread_time() - began)
            return result
        self.collector.begin()
        try:
            for chunk in grouped_slices(by_trace(batch, _log_trace), self.budget):
                self.masking.export(chunk)
        finally:
            gathered = self.collector.release()
        return gathered

    def shutdown(self) -> None:
        self.masking.shutdown()  # type: ignore[no-untyped-call]

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.masking.force_flush(timeout_millis)
