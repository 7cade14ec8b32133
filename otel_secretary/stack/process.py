"""Detached child processes with pid files that say exactly what was started.

`stack down` may run in another shell, days later, after the pid was reused by something else; so a pid
file records the full argv and a process is ours only when /proc/<pid>/cmdline still equals it.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class PidRecord:
    name: str
    pid: int
    argv: list[str]
    started_at: float

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def load(cls, path: Path) -> PidRecord | None:
        try:
            data = json.loads(path.read_text())
            return cls(
                str(data["name"]), int(data["pid"]), [str(a) for a in data["argv"]], float(data["started_at"])
            )
        except (FileNotFoundError, ValueError, KeyError, TypeError):
            return None


def _cmdline(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return [part.decode(errors="replace") for part in raw.split(b"\0")[:-1]]


def is_running(record: PidRecord) -> bool:
    """The recorded process is alive (not a zombie) and is still the program we started."""
    try:
        state = Path(f"/proc/{record.pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z" and _cmdline(record.pid) == record.argv


def rss_bytes(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def start(
    name: str,
    argv: Sequence[str],
    *,
    log_path: Path,
    pid_path: Path,
    env: Mapping[str, str],
    cwd: Path,
) -> tuple[PidRecord, subprocess.Popen[bytes]]:
    """Start ``argv`` in its own session (it outlives the CLI), output appended to ``log_path``."""
    with log_path.open("ab") as log:
        log.write(f"\n===== {time.strftime('%Y-%m-%d %H:%M:%S')} starting {' '.join(argv)}\n".encode())
        log.flush()
        popen = subprocess.Popen(
            list(argv),
            env=dict(env),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    record = PidRecord(name, popen.pid, list(argv), time.time())
    # Between fork and exec /proc still shows the parent's command line; wait for the exec so the record
    # is recognisable (and stoppable) from the moment it is written.
    deadline = time.monotonic() + 5
    while popen.poll() is None and not is_running(record) and time.monotonic() < deadline:
        time.sleep(0.005)
    record.save(pid_path)
    return record, popen


def stop(record: PidRecord, *, timeout: float = 15.0, popen: subprocess.Popen[bytes] | None = None) -> bool:
    """SIGTERM (graceful: the collector flushes), then SIGKILL after ``timeout``. Only ever signals the
    recorded pid, and only while it is still the recorded program. Returns whether it was running."""
    if not is_running(record):
        if popen is not None:
            popen.poll()
        return False
    with contextlib.suppress(ProcessLookupError):
        os.kill(record.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while is_running(record) and time.monotonic() < deadline:
        time.sleep(0.05)
    if is_running(record):
        with contextlib.suppress(ProcessLookupError):
            os.kill(record.pid, signal.SIGKILL)
    if popen is not None:  # our own child: reap it, so it does not linger as a zombie
        with contextlib.suppress(subprocess.TimeoutExpired):
            popen.wait(5)
    return True


def tail(path: Path, lines: int = 20) -> str:
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 64 * 1024))
            text = handle.read().decode(errors="replace")
    except FileNotFoundError:
        return "(no log yet)"
    return "\n".join(text.splitlines()[-lines:])
