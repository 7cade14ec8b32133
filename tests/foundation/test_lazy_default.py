"""The one lazy process-wide default: built once under contention, replaceable, rebuilt after reset."""

from __future__ import annotations

import threading

from otel_secretary._internal.lazy_default import LazyDefault
from otel_secretary.errors import _record


def test_built_once_even_when_threads_race() -> None:
    builds: list[int] = []
    gate = threading.Barrier(8)

    def build() -> object:
        builds.append(1)
        return object()

    default: LazyDefault[object] = LazyDefault(build)
    seen: list[object] = []

    def worker() -> None:
        gate.wait()
        seen.append(default.get())

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(builds) == 1 and len({id(v) for v in seen}) == 1


def test_set_replaces_and_none_rebuilds() -> None:
    default: LazyDefault[list[int]] = LazyDefault(list)
    first = default.get()
    mine = [1]
    default.set(mine)
    assert default.get() is mine
    default.set(None)
    assert default.get() is not first and default.get() == []


def test_the_error_recorder_default_uses_it() -> None:
    recorder = _record.ErrorRecorder()
    before = _record.default_recorder()
    try:
        _record.set_default_recorder(recorder)
        assert _record.default_recorder() is recorder
    finally:
        _record.set_default_recorder(before)
