"""The audit log: who changed what alerts do, when, and from where.

An on-call engineer asking "why did nobody get paged last night?" needs to see that a silence was set, by
whom, from which host, and until when; a reviewer needs to see when rules or notification channels
changed. So every operation that changes what alerts do is appended, as one JSON line, to
``audit.jsonl`` in the data folder: silences created and expired, alerts acknowledged, test alerts sent
(through the embedded engine's control file or through Alertmanager), rule files rendered, rules loaded
or changed and notification channel configs changed (noticed when a process loads them).

The file is append-only (``O_APPEND``, one whole line per write under an flock, so prefork workers and
the CLI never interleave) and size-rotated like the other files of the data folder. Every free-text
value passes the same PII masker as the exported signals (the settings' policy): an e-mail given as
``--by`` is kept as ``<email>`` (or, with ``OTEL_SECRETARY_PII_MODE=pseudonym``, its keyed pseudonym, so
two entries by the same person still match); the address never lands on disk. Ids, fingerprints and
digests are ours and pass unchanged.
Writing an entry never breaks the operation it records: a failure is said on stderr and counted.
"""

from __future__ import annotations

import contextlib
import getpass
import hashlib
import json
import os
import socket
import sys
import time
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, get_args

from otel_secretary import pii
from otel_secretary.sdk._rotating_stream import RotatingLineStream, complete_lines

AUDIT_FILE = "audit.jsonl"
#: Digests of the rule and channel configs last seen, so a change is recorded once, not by every worker.
SEEN_FILE = "audit-seen.json"
#: A JSON-lines audit file stays small: an entry is ~400 bytes, so 5 MB x 4 files keep ~50,000 entries.
MAX_BYTES = 5 * 1024 * 1024
BACKUPS = 3

Action = Literal[
    "silence.created",
    "silence.expired",
    "alert.acknowledged",
    "alert.test_sent",
    "rules.rendered",
    "rules.loaded",
    "rules.changed",
    "notify.config_loaded",
    "notify.config_changed",
]
ACTIONS: tuple[Action, ...] = get_args(Action)
failures = 0


def actor(by: str | None) -> tuple[str, str]:
    """Who acts and how we know: an explicit ``--by`` wins, else the OS user running the command."""
    if by:
        return by, "explicit"
    try:
        return getpass.getuser(), "os_user"
    except (KeyError, OSError):
        return f"uid:{os.getuid()}", "os_user"


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _mask(value: Any, masker: pii.Masker | None, key: str | None = None) -> Any:
    """Mask strings anywhere in ``value``; numbers and booleans pass; a failure drops the value (closed)."""
    try:
        if isinstance(value, str):
            masked = (
                masker.mask_value(key, value) if masker is not None else pii.mask_attributes({"v": value})
            )
            return str(masked if masker is not None else masked["v"])
        if isinstance(value, Mapping):
            return {str(_mask(str(k), masker)): _mask(v, masker, str(k)) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [_mask(v, masker, key) for v in value]
        if value is None or isinstance(value, bool | int | float):
            return value
        return _mask(str(value), masker, key)
    except Exception:
        return "<redacted>"


def entry(
    action: Action,
    *,
    by: str | None = None,
    target: str = "",
    where: str = "",
    details: Mapping[str, Any] | None = None,
    masker: pii.Masker | None = None,
    now: float | None = None,
) -> dict[str, Any]:
    """One audit record, masked. ``where`` names the system changed (engine data folder, Alertmanager URL);
    host, pid and the command line say where the change came from."""
    ts = time.time() if now is None else now
    who, how = actor(by)
    record = {
        "time": _iso(ts),
        "ts": round(ts, 3),
        "action": action,
        "by": who,
        "by_source": how,
        "target": target,
        "where": where,
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:3]]) if sys.argv else "",
        "details": dict(details or {}),
    }
    masked: dict[str, Any] = {
        key: (value if key in ("time", "ts", "action", "pid", "by_source") else _mask(value, masker, key))
        for key, value in record.items()
    }
    return masked


def record(
    data_dir: Path,
    action: Action,
    *,
    by: str | None = None,
    target: str = "",
    where: str = "",
    details: Mapping[str, Any] | None = None,
    masker: pii.Masker | None = None,
    now: float | None = None,
    quiet: bool = False,
) -> dict[str, Any] | None:
    """Append one entry to ``<data_dir>/audit.jsonl``; returns it, or None when it could not be written
    (counted, and said on stderr unless ``quiet``: the CLI says it, a starting app leaves it to the
    exporters, which already report an unwritable data folder)."""
    global failures
    line = entry(action, by=by, target=target, where=where, details=details, masker=masker, now=now)
    try:
        stream = RotatingLineStream(data_dir / AUDIT_FILE, MAX_BYTES, BACKUPS)
        try:
            stream.write(json.dumps(line, sort_keys=True, separators=(",", ":")) + "\n")
        finally:
            stream.close()
    except OSError as exc:
        failures += 1
        if quiet:
            return None
        print(
            f"otel-secretary: audit entry {action} not written to {data_dir / AUDIT_FILE}: {exc}",
            file=sys.stderr,
        )
        return None
    return line


def files(data_dir: Path) -> list[Path]:
    """The audit file and its rotated backups, oldest first."""
    base = data_dir / AUDIT_FILE
    rotated = [base.with_name(f"{base.name}.{i}") for i in range(BACKUPS, 0, -1)]
    return [path for path in [*rotated, base] if path.exists()]


def read(data_dir: Path, since: float | None = None) -> list[dict[str, Any]]:
    """Every entry (rotated files included), oldest first; ``since``: only entries at or after it."""
    found: list[dict[str, Any]] = []
    for path in files(data_dir):
        with contextlib.suppress(OSError):
            for line in complete_lines(path):
                try:
                    item = json.loads(line)
                except ValueError:
                    continue
                if isinstance(item, dict) and (since is None or float(item.get("ts", 0)) >= since):
                    found.append(item)
    found.sort(key=lambda item: float(item.get("ts", 0)))
    return found


# ----------------------------------------------------------------- changes noticed when a process loads


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def rule_digests(folder: Path) -> dict[str, str]:
    """``file name → content digest`` of a spec folder (``*.yaml``/``*.yml``, as the loader reads it)."""
    found: dict[str, str] = {}
    for path in sorted({*folder.glob("*.yaml"), *folder.glob("*.yml")}):
        with contextlib.suppress(OSError):
            found[path.name] = _digest(path.read_bytes())
    return found


def _channels(path: Path) -> list[str]:
    """``name (type)`` of each channel: never URLs, keys or addresses (they are secrets or personal)."""
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return []
    channels = data.get("channels") if isinstance(data, dict) else None
    if not isinstance(channels, list):
        return []
    return [f"{c.get('name', '?')} ({c.get('type', '?')})" for c in channels if isinstance(c, dict)]


def _diff(before: Mapping[str, str], after: Mapping[str, str]) -> dict[str, list[str]]:
    return {
        "added": sorted(set(after) - set(before)),
        "removed": sorted(set(before) - set(after)),
        "changed": sorted(k for k in set(after) & set(before) if after[k] != before[k]),
    }


def note_config(
    data_dir: Path,
    rules_dir: Path | None,
    notify_config: Path | None,
    *,
    rule_names: Iterable[str] = (),
    masker: pii.Masker | None = None,
) -> list[dict[str, Any]]:
    """Record ``rules.loaded``/``rules.changed`` and ``notify.config_loaded``/``notify.config_changed``
    when what this process loaded differs from what the last process of the data folder loaded.

    Runs when the engine starts; prefork workers load the same files, so the digests seen are kept in
    ``audit-seen.json`` under a lock and only the first process to see a change records it. Never raises.
    """
    from otel_secretary.rules import store

    written: list[dict[str, Any]] = []
    try:
        path = data_dir / SEEN_FILE
        with store._locked(path):
            seen = store.read_json(path, {})
            seen = seen if isinstance(seen, dict) else {}

            def note(key: str, now: Any, actions: tuple[Action, Action], target: Path, details: Any) -> None:
                """Record ``actions[0]`` (first load) or ``actions[1]`` (a change) when ``now`` differs
                from what the folder's last process saw under ``key``; ``details(before)`` says what."""
                before = seen.get(key)
                if before == now:
                    return
                action = actions[0] if before is None else actions[1]
                if item := record(
                    data_dir,
                    action,
                    where=str(data_dir),
                    target=str(target),
                    details=details(before),
                    masker=masker,
                    quiet=True,
                ):
                    written.append(item)
                seen[key] = now

            if rules_dir is not None:
                digests = rule_digests(rules_dir)

                def rules_details(before: Any) -> dict[str, Any]:
                    details: dict[str, Any] = {"folder": str(rules_dir), "files": digests}
                    details["rules"] = sorted(rule_names)
                    if isinstance(before, dict):
                        details.update(_diff(before, digests))
                    return details

                note("rules", digests, ("rules.loaded", "rules.changed"), rules_dir, rules_details)
            if notify_config is not None:
                try:
                    digest = _digest(notify_config.read_bytes())
                except OSError:
                    digest = "unreadable"
                config = notify_config
                note(
                    "notify",
                    digest,
                    ("notify.config_loaded", "notify.config_changed"),
                    config,
                    lambda before: {
                        "file": str(config),
                        "digest": digest,
                        "previous_digest": before,
                        "channels": _channels(config),
                    },
                )
            store.write_json(path, seen)
    except OSError:  # an unwritable data folder: the exporters report it; the app starts regardless
        global failures
        failures += 1
    except Exception as exc:  # the audit must never stop the engine from starting
        from otel_secretary._internal.self_monitoring import report_internal_error

        report_internal_error("audit.note_config", exc)
    return written
