"""Pid files that only ever stop what they started."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from otel_secretary.stack import process

SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)"]


def _start(tmp_path: Path, argv: list[str]) -> tuple[process.PidRecord, subprocess.Popen[bytes]]:
    return process.start(
        "sleeper",
        argv,
        log_path=tmp_path / "sleeper.log",
        pid_path=tmp_path / "sleeper.pid",
        env=os.environ,
        cwd=tmp_path,
    )


def test_start_records_pid_and_argv_and_stop_ends_the_process(tmp_path: Path) -> None:
    record, popen = _start(tmp_path, SLEEPER)
    try:
        loaded = process.PidRecord.load(tmp_path / "sleeper.pid")
        assert loaded == record
        assert process.is_running(record)
        assert (process.rss_bytes(record.pid) or 0) > 0
        assert process.stop(record, timeout=5, popen=popen) is True
        assert popen.returncode is not None
        assert not process.is_running(record)
    finally:
        if popen.poll() is None:
            popen.kill()
            popen.wait()


def test_a_reused_pid_running_another_program_is_not_signalled(tmp_path: Path) -> None:
    """The pid now belongs to a different command line: `down` must leave it alone."""
    _, popen = _start(tmp_path, SLEEPER)
    try:
        impostor = process.PidRecord(
            "sleeper", popen.pid, [*SLEEPER[:-1], "import time; time.sleep(61)"], 0.0
        )
        assert not process.is_running(impostor)
        assert process.stop(impostor, timeout=1) is False
        assert popen.poll() is None
    finally:
        popen.kill()
        popen.wait()


def test_stale_or_corrupt_pid_files_read_as_nothing(tmp_path: Path) -> None:
    assert process.PidRecord.load(tmp_path / "missing.pid") is None
    (tmp_path / "bad.pid").write_text("{not json")
    assert process.PidRecord.load(tmp_path / "bad.pid") is None


def test_output_goes_to_the_log_and_tail_returns_the_last_lines(tmp_path: Path) -> None:
    record, popen = _start(
        tmp_path, [sys.executable, "-c", "print('\\n'.join(f'line {i}' for i in range(100)))"]
    )
    popen.wait(10)
    assert process.tail(tmp_path / "sleeper.log", 3).splitlines() == ["line 97", "line 98", "line 99"]
    assert not process.is_running(record)
    assert process.tail(tmp_path / "nothing.log") == "(no log yet)"
