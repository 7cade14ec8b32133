"""Batches are masked and encoded in slices that release the GIL, without weakening masking (issue 15)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from otel_secretary._internal import export_slices
from otel_secretary.pii import Masker, MaskingLogRecordExporter, MaskingSpanExporter
from otel_secretary.sdk.trace.jsonl_exporter import JsonLinesSpanExporter
from otel_secretary.settings import load_settings
from tests.support.otel_harness import open_harness


class Recording(SpanExporter):
    """What the masking exporter hands on, one entry per call."""

    def __init__(self, delegate: SpanExporter) -> None:
        self.delegate = delegate
        self.calls: list[list[ReadableSpan]] = []

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.calls.append(list(spans))
        return self.delegate.export(spans)


def _traces(count: int) -> list[ReadableSpan]:
    """``count`` traces of three spans each, ended child-first; the parent names its attendee."""
    with open_harness() as otel:
        tracer = otel.tracer_provider.get_tracer("t")
        for i in range(count):
            with tracer.start_as_current_span(f"calendar.events.insert {i}") as parent:
                parent.set_attribute("calendar.attendee.display_name", "Priya Natarajan")
                with tracer.start_as_current_span("prepare brief for Priya"):
                    pass
                with tracer.start_as_current_span("notify", attributes={"app.to": "okafor@example.com"}):
                    pass
        return otel.spans()


def _sliced(sink: SpanExporter, masker: Masker) -> tuple[export_slices.SlicedSpanExporter, Recording]:
    collector = export_slices.BatchCollector(sink)
    recording = Recording(collector)
    sliced = export_slices.SlicedSpanExporter(MaskingSpanExporter(recording, masker), collector)
    sliced.budget.seconds = 1e-9  # one slice per trace
    return sliced, recording


def test_a_batch_is_masked_in_slices_of_whole_traces_and_exported_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    yields: list[float] = []
    monkeypatch.setattr(export_slices.time, "sleep", yields.append)
    sink = InMemorySpanExporter()
    masker = Masker(meter_provider=MeterProvider())
    sliced, recording = _sliced(sink, masker)
    sliced.budget.observe(1, 1.0)  # a known (large) cost per item: every slice is one trace
    spans = _traces(6)

    assert sliced.export(spans) is SpanExportResult.SUCCESS

    # Masked slice by slice, each slice one whole trace, the GIL released between slices ...
    assert len(recording.calls) == 6
    for call in recording.calls:
        assert len({s.context.trace_id for s in call if s.context}) == 1 and len(call) == 3
    assert yields == [0] * 5
    # ... and the exporter got the masked batch in one call, every span exactly once.
    exported = sink.get_finished_spans()
    assert len(exported) == len(spans) == 18
    assert {s.context.span_id for s in exported if s.context} == {
        s.context.span_id for s in spans if s.context
    }
    # The child ended (and was batched) before its parent, yet the parent's attendee is masked in it.
    assert sum(s.name == "prepare brief for <name>" for s in exported) == 6
    assert not any("okafor@example.com" in json.dumps(dict(s.attributes or {})) for s in exported)


def test_a_small_batch_goes_through_in_one_call() -> None:
    sink = InMemorySpanExporter()
    sliced, recording = _sliced(sink, Masker(meter_provider=MeterProvider()))
    sliced.budget = export_slices.SliceBudget()  # fresh: the first slice holds 4 items
    spans = _traces(1)
    sliced.export(spans)
    assert len(recording.calls) == 1 and len(sink.get_finished_spans()) == 3


def test_slices_adapt_to_the_cost_per_item() -> None:
    budget = export_slices.SliceBudget(seconds=0.001)
    budget.observe(10, 0.001)  # 0.1 ms an item
    assert budget.size() == 10
    budget.observe(1, 0.01)  # a slow item shrinks the next slices at once, not after many
    assert budget.size() < 4
    groups = [[1, 2], [3], [4, 5, 6, 7, 8], [9]]
    fixed = export_slices.SliceBudget(seconds=0.001)
    fixed.size = lambda: 3  # type: ignore[method-assign]
    assert list(export_slices.grouped_slices(groups, fixed)) == [[1, 2, 3], [4, 5, 6, 7, 8], [9]]


def test_logs_are_sliced_by_trace_and_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(export_slices.time, "sleep", lambda _: None)
    finished = InMemoryLogRecordExporter()
    provider = LoggerProvider()
    provider.add_log_record_processor(SimpleLogRecordProcessor(finished))
    logger = provider.get_logger("t")
    for i in range(20):
        logger.emit(body=f"mail {i} sent to okafor@example.com")
    records = list(finished.get_finished_logs())
    sink = InMemoryLogRecordExporter()
    collector = export_slices.LogBatchCollector(sink)
    masker = Masker(meter_provider=MeterProvider())
    sliced = export_slices.SlicedLogExporter(MaskingLogRecordExporter(collector, masker), collector)
    sliced.budget.observe(1, 1.0)
    sliced.export(records)
    bodies = [r.log_record.body for r in sink.get_finished_logs()]
    assert len(bodies) == 20
    assert all(isinstance(b, str) and "okafor@example.com" not in b and "<email>" in b for b in bodies)


def test_the_file_gets_one_line_per_batch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    yields: list[float] = []
    monkeypatch.setattr(export_slices.time, "sleep", yields.append)
    exporter = JsonLinesSpanExporter(settings=load_settings({"OTEL_SECRETARY_DATA_DIR": str(tmp_path)}))
    sliced, _ = _sliced(exporter, Masker(meter_provider=MeterProvider()))
    sliced.budget.observe(1, 1.0)
    exporter._budget.observe(1, 1.0)  # the encoder slices too
    sliced.export(_traces(4))
    lines = (tmp_path / "traces.jsonl").read_text().splitlines()
    assert len(lines) == 1
    spans = json.loads(lines[0])["resourceSpans"][0]["scopeSpans"][0]["spans"]
    assert len(spans) == 12
    assert len(yields) == 3 + 11  # between the masking slices, then between the encoding slices
