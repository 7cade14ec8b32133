"""The embedded default on a failing data folder: a full disk and a read-only folder.

Each case runs a real instrumented process (tests/support/fault_driver.py) and checks what was kept
(every line of traces.jsonl is valid JSON, no batch cut in half), what was reported (one stderr line
per cause, no traceback; the counter on the app's own /metrics) and that nothing else was lost
(spans kept + spans counted as dropped = spans made; /metrics keeps serving)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.fault_runs import SPANS, assert_said_once_per_minute, dropped, notes, run_driver
from tests.support.processes import clean_env, venv_tool

pytestmark = pytest.mark.integration


@contextlib.contextmanager
def tmpfs(where: Path, *options: str) -> Iterator[Path]:
    """A small real file system (root only); skips where mounting is not allowed."""
    where.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", ",".join(options), "tmpfs", str(where)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def kept_spans(path: Path) -> int:
    """Spans in the file; every line must be one complete JSON document."""
    if not path.exists():
        return 0
    count = 0
    for number, line in enumerate(path.read_text().splitlines(), 1):
        document = json.loads(line)  # raises on a cut-off or merged line
        assert isinstance(document, dict), number
        count += sum(len(ss["spans"]) for rs in document["resourceSpans"] for ss in rs["scopeSpans"])
    return count


def check_full_disk(data_dir: Path, done: subprocess.CompletedProcess[str], elapsed: float) -> None:
    metrics = json.loads(done.stdout.splitlines()[-1])["metrics"]
    kept = kept_spans(data_dir / "traces.jsonl")
    lost = dropped(metrics, "spans", "disk_full")
    assert 0 < kept < SPANS, "the disk must fill part-way through the run"
    assert kept + lost == SPANS, (kept, lost)
    assert_said_once_per_minute(done.stderr, "spans", "disk_full", elapsed)
    assert "traces.jsonl" in notes(done.stderr, "spans", "disk_full")[0]
    # The bytes on disk end with a whole line: the failed batch was cut back, not left half-written.
    assert (data_dir / "traces.jsonl").read_bytes().endswith(b"\n")


def test_full_disk_by_file_size_limit(tmp_path: Path) -> None:
    """Works without privileges (CI): RLIMIT_FSIZE makes every write past 64 KiB fail like a full disk."""
    data_dir = tmp_path / "data"
    done, elapsed = run_driver(data_dir, FAULT_FSIZE=str(64 * 1024))
    check_full_disk(data_dir, done, elapsed)


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")
def test_full_disk_on_a_small_tmpfs(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "disk", "size=96k") as disk:
        done, elapsed = run_driver(disk)
        check_full_disk(disk, done, elapsed)
        assert "No space left on device" in notes(done.stderr, "spans", "disk_full")[0]


def test_read_only_folder_drops_files_and_keeps_metrics(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        ctx = tmpfs(tmp_path / "ro", "size=64k", "ro")
    else:
        (tmp_path / "ro").mkdir(mode=0o555)
        ctx = contextlib.nullcontext(tmp_path / "ro")
    with ctx as folder:
        done, elapsed = run_driver(folder / "telemetry")
    metrics = json.loads(done.stdout.splitlines()[-1])["metrics"]
    assert dropped(metrics, "spans", "unwritable") == SPANS
    assert dropped(metrics, "logs", "unwritable") >= 1
    assert_said_once_per_minute(done.stderr, "spans", "unwritable", elapsed)
    assert_said_once_per_minute(done.stderr, "logs", "unwritable", elapsed)
    line = notes(done.stderr, "spans", "unwritable")[0]
    assert re.search(r"(Read-only file system|Permission denied)", line), line
    # Metrics still work: the app's own /metrics served the counters above (and its HTTP metrics).
    assert "otel_secretary_telemetry_dropped_total" in metrics


def test_config_check_fails_on_an_unusable_data_folder(tmp_path: Path) -> None:
    """A preflight (issue 11): the app would run without its files, so the check exits non-zero and
    names the variable and why, one line; it probes and never creates anything."""
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    for folder, expected in (
        (blocker / "telemetry", f"cannot be created: {blocker} is a file"),
        (blocker, "is a file"),
    ):
        done = subprocess.run(
            [venv_tool("otel-secretary"), "config", "check"],
            env=clean_env(OTEL_SECRETARY_DATA_DIR=str(folder)),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 2, done.stdout + done.stderr
        lines = [
            line for line in (done.stdout + done.stderr).splitlines() if "OTEL_SECRETARY_DATA_DIR" in line
        ]
        assert lines == [f"error: OTEL_SECRETARY_DATA_DIR={folder}: the data folder {expected}"], lines
        assert "Traceback" not in done.stderr
        assert not (tmp_path / "telemetry").exists()
    fine = subprocess.run(
        [venv_tool("otel-secretary"), "config", "check"],
        env=clean_env(OTEL_SECRETARY_DATA_DIR=str(tmp_path / "new" / "data")),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert fine.returncode == 0 and "error" not in fine.stdout + fine.stderr, fine.stdout + fine.stderr
    assert not (tmp_path / "new").exists()  # checked, not created
