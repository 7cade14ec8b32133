"""Files the engine shares with the CLI in ``settings.data_dir``.

``rules-state[-<pid>].json`` is written by each evaluating process (alerts, silences, counters) and only
read by the CLI. ``rules-control.json`` is written by the CLI (silences, expiries, acknowledgements) and
read by every engine at each evaluation. Writes are atomic (temp file + rename) under an flock, so a
reader never sees half a file and two writers never lose each other's update.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

STATE_PREFIX = "rules-state"
CONTROL = "rules-control.json"
LEDGER = "notify-ledger.json"
#: The evaluator's durable memory: alerts with their ``for``/notified/ack state, and the acks applied.
ALERTS = "rules-alerts.json"
#: Per-minute span counts written by every process (one file per writer, appended), read by the evaluator.
COUNTS_DIR = "rules-counts"
_COUNTS_LINES_PER_FILE = 240


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def write_json(path: Path, data: Any, *, durable: bool = False) -> None:
    """Write-then-rename: a reader (or a restart after a crash) sees the old file or the new one, whole.

    ``durable`` also fsyncs the data and the folder, so a power cut cannot leave an empty file behind.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    text = json.dumps(data, indent=None if durable else 1, sort_keys=True, default=str)
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(text)
        if durable:
            handle.flush()
            os.fsync(handle.fileno())
    tmp.replace(path)
    if durable:
        with contextlib.suppress(OSError):
            folder = os.open(path.parent, os.O_RDONLY)
            try:
                os.fsync(folder)
            finally:
                os.close(folder)


def read_json(path: Path, default: Any) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return default


def empty_control() -> dict[str, Any]:
    return {"silences": [], "acks": []}


def update_control(data_dir: Path, change: Callable[[dict[str, Any]], Any]) -> Any:
    """Read-modify-write ``rules-control.json`` under the lock; returns what ``change`` returns."""
    path = data_dir / CONTROL
    with _locked(path):
        control = read_json(path, empty_control())
        result = change(control)
        _prune(control, time.time())
        write_json(path, control)
    return result


def _prune(control: dict[str, Any], now: float) -> None:
    """Keep the file small: silences over for a day and acks older than a week are dropped."""
    control["silences"] = [s for s in control.get("silences", []) if float(s.get("endsAt", 0)) > now - 86400]
    control["acks"] = [a for a in control.get("acks", []) if float(a.get("at", 0)) > now - 7 * 86400][-1000:]


def read_control(data_dir: Path) -> dict[str, Any]:
    data = read_json(data_dir / CONTROL, empty_control())
    return data if isinstance(data, dict) else empty_control()


def state_path(data_dir: Path, pid_suffix: bool) -> Path:
    return data_dir / (f"{STATE_PREFIX}-{os.getpid()}.json" if pid_suffix else f"{STATE_PREFIX}.json")


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's live process
    except OSError:
        return False
    return True


def read_states(data_dir: Path, *, prune: bool = True) -> list[dict[str, Any]]:
    """Every process's last snapshot, newest first.

    A forked worker's ``rules-state-<pid>.json`` whose process is gone is stale (its alerts live on in
    the evaluator's state): it is deleted (``prune``) and not returned. ``rules-state.json`` is kept
    after its process stopped: with the durable state it is what the next start continues from.
    """
    states = []
    for path in sorted(data_dir.glob(f"{STATE_PREFIX}*.json")):
        suffix = path.stem[len(STATE_PREFIX) + 1 :]
        if suffix.isdigit() and not pid_alive(int(suffix)):
            if prune:
                with contextlib.suppress(OSError):
                    path.unlink()
            continue
        data = read_json(path, None)
        if isinstance(data, dict):
            data["file"] = path.name
            pid = data.get("pid")
            data["alive"] = isinstance(pid, int) and pid_alive(pid)
            states.append(data)
    states.sort(key=lambda d: float(d.get("evaluatedAt") or 0.0), reverse=True)
    return states


def claim_notification(data_dir: Path, fingerprint: str, kind: str, now: float, window: float) -> bool:
    """May this process send ``kind`` for the alert ``fingerprint``? False if another process sharing the
    data folder sent the same kind for it less than ``window`` seconds ago.

    Prefork workers each evaluate their own share of the traffic, so one incident fires in every worker;
    without this, N workers would page N times. Only the *last* kind per alert is remembered, so a real
    trigger → resolve → trigger sequence is never swallowed.
    """
    path = data_dir / LEDGER
    with _locked(path):
        ledger = read_json(path, {})
        if not isinstance(ledger, dict):
            ledger = {}
        last = ledger.get(fingerprint)
        if isinstance(last, dict) and last.get("kind") == kind and now - float(last.get("at", 0)) < window:
            return False
        ledger[fingerprint] = {"kind": kind, "at": now}
        week = 7 * 86400
        ledger = {
            k: v for k, v in ledger.items() if isinstance(v, dict) and now - float(v.get("at", 0)) < week
        }
        write_json(path, ledger)
    return True


CountRow = tuple[int, str, Sequence[str], Sequence[float]]
#: One metric point as a process saw it: (name, masked attributes, value, timestamp, monotonic).
MetricRow = tuple[str, dict[str, str], float, float, bool]


class CountWriter:
    """Appends this process's drained counts, one JSON line per evaluation, to its own file.

    One writer per file (named by pid and a random id, rotated every few hours of lines), so lines are
    never interleaved; a reader only ever sees a partly written *last* line, which it leaves for later.
    """

    def __init__(self, data_dir: Path) -> None:
        self.folder = data_dir / COUNTS_DIR
        self._id = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._seq = 0
        self._lines = 0

    def _path(self) -> Path:
        return self.folder / f"{self._id}-{self._seq:06d}.jsonl"

    @property
    def writer_id(self) -> str:
        return self._id

    def write(self, rows: Iterable[CountRow], metrics: Iterable[MetricRow] = ()) -> None:
        data: list[Any] = [[minute, rule, list(key), list(values)] for minute, rule, key, values in rows]
        data += [
            ["m", self._id, name, dict(attrs), value, ts, mono] for name, attrs, value, ts, mono in metrics
        ]
        if not data:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        if self._lines >= _COUNTS_LINES_PER_FILE:
            self._seq, self._lines = self._seq + 1, 0
        line = json.dumps(data, separators=(",", ":")) + "\n"
        fd = os.open(self._path(), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)
        self._lines += 1


class CountReader:
    """Reads every writer's new complete lines since the last call (offsets kept per file).

    The first call reads everything still in the folder: that is how a restarted process, or a worker
    taking over evaluation, rebuilds its windows. Files untouched for longer than ``keep`` seconds are
    deleted (they only hold minutes older than the longest window).
    """

    def __init__(self, data_dir: Path, keep: float) -> None:
        self.folder = data_dir / COUNTS_DIR
        self.keep = keep
        self._offsets: dict[str, int] = {}
        self.bad_lines = 0

    def read(self) -> list[CountRow]:
        """Span counts only (see :meth:`read_all`)."""
        return self.read_all()[0]

    def read_all(self) -> tuple[list[CountRow], list[tuple[str, MetricRow]]]:
        """New span counts, and new metric points tagged with the id of the process that wrote them."""
        rows: list[CountRow] = []
        metrics: list[tuple[str, MetricRow]] = []
        try:
            paths = sorted(self.folder.glob("*.jsonl"))
        except OSError:
            return rows, metrics
        wall = time.time()
        for path in paths:
            try:
                if wall - path.stat().st_mtime > self.keep:
                    path.unlink(missing_ok=True)
                    self._offsets.pop(path.name, None)
                    continue
                with open(path, "rb") as handle:
                    handle.seek(self._offsets.get(path.name, 0))
                    chunk = handle.read()
            except OSError:
                continue
            end = chunk.rfind(b"\n") + 1
            self._offsets[path.name] = self._offsets.get(path.name, 0) + end
            for line in chunk[:end].splitlines():
                try:
                    for item in json.loads(line):
                        if item and item[0] == "m":
                            _m, writer, name, attrs, value, ts, mono = item
                            point = (str(name), {str(k): str(v) for k, v in attrs.items()}, float(value))
                            metrics.append((str(writer), (*point, float(ts), bool(mono))))
                            continue
                        minute, rule, key, values = item
                        rows.append(
                            (int(minute), str(rule), [str(k) for k in key], [float(v) for v in values])
                        )
                except (ValueError, TypeError, AttributeError):
                    self.bad_lines += 1
        return rows, metrics


class EvaluatorLock:
    """One evaluating process per data folder: whoever holds ``rules-evaluator.lock`` (an flock).

    The kernel releases the lock when its holder dies, however it dies, so the next process to try takes
    over. A forked child must :meth:`forget` the descriptor it inherited (flock locks are shared by
    the copies of one open file), then try with its own.
    """

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / "rules-evaluator.lock"
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def try_acquire(self) -> bool:
        if self._fd is not None:
            return True
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None

    def forget(self) -> None:
        """In a forked child: drop the inherited descriptor without unlocking the parent's lock."""
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None
