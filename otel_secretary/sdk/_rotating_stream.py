"""A size-rotated, multi-process-safe text stream for the JSON-lines exporters.

The upstream OTLP JSON file exporters write whole lines to any ``IO[str]``; this stream is what we hand
them so the embedded default can never fill the disk. Prefork servers (gunicorn, Celery) run several
processes appending to one path, so check-rotate-write happens under an advisory lock on
``<path>.lock`` (one ``flock`` per exported batch, not per span), and every writer reopens when the
path no longer points at the file it holds (the ``WatchedFileHandler`` idea). Writes use ``O_APPEND``
so whole batches from different processes never interleave on a local file system.

A batch is written completely or not at all: a short write is continued, and a write that fails midway
(disk full, file-size limit) is cut back to where the batch started, so every line of our files is one
valid JSON document. A folder that cannot be written (read-only, permissions) does not stop the app or
the other signals: the file is opened on first use and retried on every batch, each lost batch is
counted and said once (:func:`write_batch`, :mod:`otel_secretary._internal.self_monitoring`).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import threading
import time
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from otel_secretary._internal.self_monitoring import report_dropped, report_recovered
from otel_secretary.sdk._otlp_json import dumps_line
from otel_secretary.settings import Settings, load_settings

_DISK_FULL = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
_UNWRITABLE = {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOENT, errno.ENOTDIR, errno.EEXIST}
_REASONS = ("disk_full", "unwritable", "write_failed")


class RotatingLineStream:
    """Append-only line sink that rotates ``path`` → ``path.1`` … ``path.N`` past ``max_bytes``.

    With ``max_age`` (seconds, ``OTEL_SECRETARY_FILE_MAX_AGE``) nothing older than that is kept either:
    the current file is also rotated once it has collected for half of ``max_age`` and a rotated file
    is deleted once its newest line is half of ``max_age`` old, so a line lives between ``max_age / 2``
    and ``max_age``. When the current file began collecting is the mtime of ``<path>.lock``, touched at
    every rotation (shared by every process writing the path). Checked as lines are written, at most
    once a minute: a process that writes nothing deletes nothing."""

    def __init__(self, path: Path, max_bytes: int, backups: int, max_age: float = 0.0) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.backups = backups
        self.max_age = max_age
        self._next_age_check = 0.0
        self._lock = threading.Lock()
        # The parent's export thread may hold the lock mid-write at fork; it does not exist in the child.
        weak_self = weakref.ref(self)
        os.register_at_fork(after_in_child=lambda: _renew_lock(weak_self))
        self._fd = -1
        self._ino = -1
        self.closed = False
        self._lock_path = path.with_name(path.name + ".lock")
        self._lock_fd, self._lock_pid = -1, -1
        with contextlib.suppress(OSError):  # unwritable: retried, counted and said per write (write_batch)
            self._open()

    def _process_lock_fd(self) -> int:
        # flock() belongs to the open file description, which a forked child shares with its
        # parent: each process must open the lock file itself or the lock excludes nobody.
        if self._lock_pid != os.getpid():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._lock_fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o640)
            self._lock_pid = os.getpid()
        return self._lock_fd

    def _open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        self._fd, self._ino = fd, os.fstat(fd).st_ino

    def _close_fd(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def _reopen_if_moved(self) -> None:
        try:
            moved = self._fd < 0 or os.stat(self.path).st_ino != self._ino
        except FileNotFoundError:
            moved = True
        if moved:
            self._close_fd()
            self._open()

    def _rotate(self) -> None:
        for index in range(self.backups - 1, 0, -1):
            older = self.path.with_name(f"{self.path.name}.{index}")
            if older.exists():
                os.replace(older, self.path.with_name(f"{self.path.name}.{index + 1}"))
        os.replace(self.path, self.path.with_name(f"{self.path.name}.1"))
        self._close_fd()
        self._open()
        if self.max_age:
            os.utime(self._process_lock_fd())  # the new current file begins collecting now

    def _expire(self, lock_fd: int) -> None:
        """Under the flock: rotate a current file that has collected for ``max_age / 2`` and delete
        rotated files whose newest line is older than that."""
        now = time.time()
        self._next_age_check = now + min(60.0, self.max_age / 10)
        window = self.max_age / 2
        if os.fstat(self._fd).st_size == 0:
            os.utime(lock_fd)  # nothing collected yet: the window starts with the first line
        elif now - os.fstat(lock_fd).st_mtime > window:
            self._rotate()
        for index in range(1, self.backups + 1):
            older = self.path.with_name(f"{self.path.name}.{index}")
            with contextlib.suppress(FileNotFoundError):
                if now - older.stat().st_mtime > window:
                    older.unlink()

    def write(self, text: str) -> int:
        """Append ``text`` whole, or raise ``OSError`` with the file as it was before the call."""
        self.write_bytes(text.encode("utf-8"))
        return len(text)

    def write_bytes(self, data: bytes) -> None:
        """:meth:`write` for text already encoded as UTF-8."""
        with self._lock:
            if self.closed:
                raise ValueError("write to closed stream")
            lock_fd = self._process_lock_fd()
            fcntl.flock(lock_fd, fcntl.LOCK_EX)
            try:
                self._reopen_if_moved()
                if self.max_age and time.time() >= self._next_age_check:
                    self._expire(lock_fd)
                size = os.fstat(self._fd).st_size
                if size and size + len(data) > self.max_bytes:
                    self._rotate()
                    size = 0
                self._write_all_or_nothing(data, size)
            finally:
                fcntl.flock(lock_fd, fcntl.LOCK_UN)

    def _write_all_or_nothing(self, data: bytes, start: int) -> None:
        # Under the flock nobody else appends, so ``start`` is where this batch begins. os.write may
        # write part of the buffer (a nearly full disk); the next call then raises ENOSPC/EFBIG.
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(self._fd, view) :]
        except OSError:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, start)
            raise

    def flush(self) -> None:
        """Each write is already a system call; nothing is buffered here."""

    def close(self) -> None:
        with self._lock:
            if not self.closed:
                self.closed = True
                self._close_fd()
                if self._lock_pid == os.getpid() and self._lock_fd >= 0:
                    os.close(self._lock_fd)

    def files(self) -> list[Path]:
        """The current file and its rotated backups, newest first."""
        rotated = [self.path.with_name(f"{self.path.name}.{i}") for i in range(1, self.backups + 1)]
        return [p for p in [self.path, *rotated] if p.exists()]


def _renew_lock(ref: weakref.ref[RotatingLineStream]) -> None:
    if (stream := ref()) is not None:
        stream._lock = threading.Lock()


def stream_for(
    filename: str, path: Path | None = None, settings: Settings | None = None
) -> RotatingLineStream:
    """The rotating stream for one embedded-default file, sized by the settings."""
    settings = settings or load_settings()
    return RotatingLineStream(
        path or settings.data_dir / filename,
        settings.file_max_bytes,
        settings.file_backups,
        settings.file_max_age,
    )


def _reason(exc: OSError) -> str:
    if exc.errno in _DISK_FULL:
        return "disk_full"
    if exc.errno in _UNWRITABLE:
        return "unwritable"
    return "write_failed"


def write_batch(stream: RotatingLineStream, signal: str, body: dict[str, Any] | None, count: int) -> bool:
    """Write one OTLP-JSON batch as one line; on failure count and report the ``count`` items lost.

    The line is what an OTLP/HTTP JSON request body would be (compact UTF-8 JSON, as upstream's file
    exporters write). Returns whether the batch was kept."""
    if body is None:
        return True
    if stream.closed:
        return False
    try:
        stream.write_bytes(dumps_line(body) + b"\n")
    except OSError as exc:
        report_dropped(signal, _reason(exc), count, f"cannot write {stream.path}: {exc.strerror or exc}")
        return False
    for reason in _REASONS:
        report_recovered(signal, reason)
    return True


def complete_lines(path: Path) -> Iterator[str]:
    """The lines of ``path`` that a writer has finished: a reader may catch a batch mid-write, and an
    unterminated last line is that batch, not corrupt data."""
    with path.open(encoding="utf-8", errors="replace") as handle:
        for line in handle:
            if not line.endswith("\n"):
                return
            if line.strip():
                yield line


def folder_problem(folder: Path) -> str | None:
    """Why the embedded default could not write in ``folder``, or None; checks without creating
    anything (``config check`` must not write into the directory it is run from)."""
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if existing == folder and not folder.is_dir():
        return f"{folder} exists and is not a folder"
    if not existing.is_dir():
        return f"{existing} is a file, so {folder} cannot be created"
    if not os.access(existing, os.W_OK | os.X_OK):
        why = "read-only file system" if _read_only(existing) else "no write permission"
        return f"{existing} is not writable ({why})"
    return None


def _read_only(path: Path) -> bool:
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except OSError:
        return False
