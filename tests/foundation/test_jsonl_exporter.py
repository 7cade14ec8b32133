"""The embedded default's files: OTLP-JSON lines, rotation by size, safe appends from forked workers."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from otel_secretary.sdk._rotating_stream import RotatingLineStream
from otel_secretary.sdk.trace.jsonl_exporter import JsonLinesSpanExporter
from otel_secretary.settings import load_settings
from tests.support.otlp_json import read_spans


def test_spans_are_written_as_otlp_json_lines(tmp_path: Path) -> None:
    exporter = JsonLinesSpanExporter(settings=load_settings({"OTEL_SECRETARY_DATA_DIR": str(tmp_path)}))
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("t")
    with tracer.start_as_current_span("parent"), tracer.start_as_current_span("child") as child:
        child.set_attribute("app.answer", 42)
    provider.shutdown()
    line = (tmp_path / "traces.jsonl").read_text().splitlines()[0]
    assert "resourceSpans" in json.loads(line)
    spans = {s.name: s for s in read_spans(tmp_path / "traces.jsonl")}
    assert spans["child"].parent_span_id == spans["parent"].span_id
    assert spans["child"].trace_id == spans["parent"].trace_id
    assert spans["child"].attributes["app.answer"] == 42


def test_rotation_keeps_disk_use_bounded(tmp_path: Path) -> None:
    stream = RotatingLineStream(tmp_path / "t.jsonl", max_bytes=1000, backups=2)
    for i in range(100):
        stream.write(json.dumps({"i": i, "pad": "x" * 80}) + "\n")
    stream.close()
    files = stream.files()
    assert [f.name for f in files] == ["t.jsonl", "t.jsonl.1", "t.jsonl.2"]
    assert all(f.stat().st_size <= 1000 for f in files)
    # The newest lines survive; the oldest were rotated away rather than growing the disk.
    last = json.loads((tmp_path / "t.jsonl").read_text().splitlines()[-1])
    assert last["i"] == 99


def test_forked_writers_never_interleave_or_lose_lines(tmp_path: Path) -> None:
    path = tmp_path / "shared.jsonl"
    stream = RotatingLineStream(path, max_bytes=50_000, backups=50)
    children = []
    for worker in range(3):
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child
            for i in range(400):
                stream.write(json.dumps({"w": worker, "i": i, "pad": "y" * 60}) + "\n")
            os._exit(0)
        children.append(pid)
    for pid in children:
        assert os.waitpid(pid, 0)[1] == 0
    stream.close()
    lines = [json.loads(line) for f in stream.files() for line in f.read_text().splitlines()]
    assert len(lines) == 1200
    assert {(d["w"], d["i"]) for d in lines} == {(w, i) for w in range(3) for i in range(400)}


def test_a_child_forked_while_the_parent_writes_can_still_write(tmp_path: Path) -> None:
    import threading

    stream = RotatingLineStream(tmp_path / "t.jsonl", max_bytes=10_000, backups=2)
    holding, release = threading.Event(), threading.Event()

    def exporter_thread_mid_write() -> None:
        with stream._lock:  # what the parent's export thread holds while writing a batch
            holding.set()
            release.wait(5)

    thread = threading.Thread(target=exporter_thread_mid_write)
    thread.start()
    assert holding.wait(5)
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        done = threading.Event()
        threading.Thread(target=lambda: (stream.write('{"child":1}\n'), done.set()), daemon=True).start()
        os._exit(0 if done.wait(3) else 1)
    release.set()
    thread.join()
    assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0
    stream.close()
    assert '{"child":1}' in (tmp_path / "t.jsonl").read_text()


def test_readers_skip_a_batch_caught_mid_write(tmp_path: Path) -> None:
    from otel_secretary.sdk._rotating_stream import complete_lines

    path = tmp_path / "traces.jsonl"
    path.write_text('{"a":1}\n\n{"b":2}\n{"c":')  # the last batch is still being written
    assert [json.loads(line) for line in complete_lines(path)] == [{"a": 1}, {"b": 2}]


def _age(path: Path, seconds: float) -> None:
    """Pretend ``path`` was last written ``seconds`` ago."""
    past = time.time() - seconds
    os.utime(path, (past, past))


def test_max_age_rotates_the_collecting_file_and_deletes_old_ones(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    stream = RotatingLineStream(path, max_bytes=1 << 20, backups=3, max_age=3600)
    stream.write('{"old": 1}\n')
    stream.write('{"old": 2}\n')
    # An hour-old file from an earlier rotation, and the current file collecting for 40 minutes.
    (tmp_path / "t.jsonl.2").write_text('{"older": 0}\n')
    _age(tmp_path / "t.jsonl.2", 3600 + 5)
    _age(tmp_path / "t.jsonl.lock", 40 * 60)
    stream._next_age_check = 0.0  # the check runs at most once a minute; make it due now
    stream.write('{"new": 3}\n')
    stream.close()
    # The 40-minute window (over half of max_age) was closed, the hour-old file deleted.
    assert [f.name for f in stream.files()] == ["t.jsonl", "t.jsonl.1"]
    assert path.read_text() == '{"new": 3}\n'
    assert (tmp_path / "t.jsonl.1").read_text() == '{"old": 1}\n{"old": 2}\n'
    # Once its newest line is past half of max_age, the rotated file goes too.
    _age(tmp_path / "t.jsonl.1", 31 * 60)
    again = RotatingLineStream(path, max_bytes=1 << 20, backups=3, max_age=3600)
    again.write('{"newer": 4}\n')
    again.close()
    assert [f.name for f in again.files()] == ["t.jsonl"]


def test_without_max_age_only_size_rotates(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    stream = RotatingLineStream(path, max_bytes=1 << 20, backups=3)
    stream.write('{"a": 1}\n')
    (tmp_path / "t.jsonl.1").write_text('{"b": 0}\n')
    _age(tmp_path / "t.jsonl.1", 365 * 86400)
    _age(tmp_path / "t.jsonl.lock", 365 * 86400)
    stream.write('{"a": 2}\n')
    stream.close()
    assert [f.name for f in stream.files()] == ["t.jsonl", "t.jsonl.1"]
    assert path.read_text() == '{"a": 1}\n{"a": 2}\n'
