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
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

STATE_PREFIX = "rules-state"
CONTROL = "rules-control.json"
LEDGER = "notify-ledger.json"


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True, default=str), encoding="utf-8")
    tmp.replace(path)


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


def read_states(data_dir: Path) -> list[dict[str, Any]]:
    """Every process's last snapshot (forked workers each write their own)."""
    states = []
    for path in sorted(data_dir.glob(f"{STATE_PREFIX}*.json")):
        data = read_json(path, None)
        if isinstance(data, dict):
            data["file"] = path.name
            states.append(data)
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
