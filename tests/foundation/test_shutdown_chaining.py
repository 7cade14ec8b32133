"""The signal flush in one process: it chains to the handler that was there, leaves ignored signals
ignored, never installs twice, and a flush that hangs costs at most its bound."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from types import FrameType

import pytest

from otel_secretary._internal import flush_on_exit
from otel_secretary._internal.self_monitoring import internal_error_counts

SIG = signal.SIGUSR1  # not one pytest or the suite relies on


class Recorder:
    def __init__(self, hang: threading.Event | None = None) -> None:
        self.flushes = 0
        self.hang = hang

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        self.flushes += 1
        if self.hang is not None:
            self.hang.wait()
        return True


@pytest.fixture
def restored() -> Iterator[None]:
    previous = signal.getsignal(SIG)
    try:
        yield
    finally:
        signal.signal(SIG, previous)


def test_the_apps_handler_still_runs_after_our_flush(restored: None) -> None:
    calls: list[int] = []

    def apps_handler(signum: int, frame: FrameType | None) -> None:
        calls.append(signum)

    signal.signal(SIG, apps_handler)
    target = Recorder()
    assert flush_on_exit.install_signal_flush(target, (SIG,)) == [SIG]
    assert flush_on_exit.install_signal_flush(target, (SIG,)) == []  # never twice
    os.kill(os.getpid(), SIG)
    assert calls == [SIG] and target.flushes == 1


def test_an_ignored_signal_stays_ignored(restored: None) -> None:
    signal.signal(SIG, signal.SIG_IGN)
    assert flush_on_exit.install_signal_flush(Recorder(), (SIG,)) == []
    assert signal.getsignal(SIG) == signal.SIG_IGN


def test_a_hanging_flush_is_abandoned_after_its_bound() -> None:
    release = threading.Event()
    target = Recorder(hang=release)
    try:
        assert flush_on_exit.flush_within(target, seconds=0.2) is False
        # A second request while the first still hangs does not start (or wait for) another.
        assert flush_on_exit.flush_within(target, seconds=0.2) is False
        assert target.flushes == 1
    finally:
        release.set()
        while flush_on_exit._flushing.is_set():  # the abandoned flush ends once released
            time.sleep(0.01)


def test_a_failing_flush_never_raises() -> None:
    class Broken:
        def force_flush(self, timeout_millis: int = 30_000) -> bool:
            raise RuntimeError("exporter exploded")

    before = internal_error_counts().get("flush_on_exit", 0)
    assert flush_on_exit.flush_within(Broken(), seconds=5) is False
    assert internal_error_counts()["flush_on_exit"] == before + 1  # counted, logged once
