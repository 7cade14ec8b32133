"""The per-deployment key of every pseudonym (``enduser.id``, ``<email:3f2a9c1d>``).

A key written in the source would let anyone who reads the source reverse a pseudonym of a known id by
trying candidates. Without ``OTEL_SECRETARY_PII_KEY`` we therefore create a random key once per
deployment in the data folder (``<data_dir>/pii.key``, mode 0600) and say so once on stderr; when that
folder cannot be written, a random per-process key is used (pseudonyms then change on restart) and that
is said once too. :func:`key_status` lets ``config check`` report which case applies without creating
anything.
"""

from __future__ import annotations

import os
import secrets
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from otel_secretary.settings import Settings

KEY_FILE = "pii.key"
_lock = threading.Lock()
_keys: dict[Path, bytes] = {}
_ephemeral: bytes | None = None


@dataclass(frozen=True)
class KeyStatus:
    """Where the pseudonym key comes from: ``env``, ``file`` (created earlier) or ``missing``."""

    source: str
    path: Path | None
    message: str

    @property
    def configured(self) -> bool:
        return self.source == "env"


def key_path(settings: Settings) -> Path:
    return Path(settings.data_dir) / KEY_FILE


def key_status(settings: Settings) -> KeyStatus:
    """Which key pseudonyms use, without creating one; for ``config check`` (a production deployment
    should set OTEL_SECRETARY_PII_KEY, shared by all its processes and kept out of the data folder)."""
    if settings.pii_key:
        return KeyStatus("env", None, "OTEL_SECRETARY_PII_KEY is set")
    path = key_path(settings)
    if path.is_file():
        return KeyStatus("file", path, f"OTEL_SECRETARY_PII_KEY is not set; pseudonyms use the key in {path}")
    return KeyStatus(
        "missing",
        path,
        f"OTEL_SECRETARY_PII_KEY is not set; a random key will be created in {path} on first use",
    )


def pseudonym_key(settings: Settings) -> bytes:
    """OTEL_SECRETARY_PII_KEY, else the deployment's key file (created on first use), else a per-process
    random key when the data folder is not writable."""
    if settings.pii_key:
        return settings.pii_key.encode()
    path = key_path(settings).resolve()
    cached = _keys.get(path)
    if cached is not None:
        return cached
    with _lock:
        if path not in _keys:
            _keys[path] = _load_or_create(path)
        return _keys[path]


def _load_or_create(path: Path) -> bytes:
    global _ephemeral
    try:
        return _read(path)
    except FileNotFoundError:
        pass
    except OSError as exc:
        return _fallback(f"cannot read {path} ({exc.strerror})")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read(path)  # another process created it first
    except OSError as exc:
        return _fallback(f"cannot create {path} ({exc.strerror})")
    with os.fdopen(descriptor, "w", encoding="ascii") as handle:
        handle.write(secrets.token_hex(32) + "\n")
    print(
        f"otel-secretary: OTEL_SECRETARY_PII_KEY is not set; created a random pseudonym key in {path} "
        "(mode 0600). Set OTEL_SECRETARY_PII_KEY to share one key across hosts.",
        file=sys.stderr,
    )
    return _read(path)


def _read(path: Path) -> bytes:
    key = path.read_text(encoding="ascii").strip().encode()
    if not key:
        raise FileNotFoundError(path)
    return key


def _fallback(reason: str) -> bytes:
    global _ephemeral
    if _ephemeral is None:
        _ephemeral = secrets.token_bytes(32)
        print(
            f"otel-secretary: OTEL_SECRETARY_PII_KEY is not set and {reason}; pseudonyms use a random key "
            "for this process only (they change on restart).",
            file=sys.stderr,
        )
    return _ephemeral
