"""A size-rotated, multi-process-safe text stream for the JSON-lines exporters.

The upstream OTLP JSON file exporters write whole lines to any ``IO[str]``; this stream is what we hand
them so the embedded default can never fill the disk. Prefork servers (gunicorn, Celery) run several
processes appending to one path, so check-rotate-write happens under an advisory lock on
``<path>.lock`` (one ``flock`` per exported batch, not per span), and every writer reopens when the
path no longer points at the file it holds (the ``WatchedFileHandler`` idea). Writes use ``O_APPEND``
so whole batches from different processes never interleave on a local file system.
"""

from __future__ import annotations

import fcntl
import os
import threading
import weakref
from collections.abc import Iterator
from pathlib import Path

from otel_secretary.settings import Settings, load_settings


class RotatingLineStream:
    """Append-only line sink that rotates ``path`` → ``path.1`` … ``path.N`` past ``max_bytes``."""

    def __init__(self, path: Path, max_bytes: int, backups: int) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.backups = backups
        self._lock = threading.Lock()
        # The parent's export thread may hold the lock mid-write at fork; it does not exist in the child.
        weak_self = weakref.ref(self)
        os.register_at_fork(after_in_child=lambda: _renew_lock(weak_self))
        self._fd = -1
        self._ino = -1
        self.closed = False
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock_path = path.with_name(path.name + ".lock")
        self._lock_fd, self._lock_pid = -1, -1
        self._open()

    def _process_lock_fd(self) -> int:
        # flock() belongs to the open file description, which a forked child shares with its
        # parent: each process must open the lock file itself or the lock excludes nobody.
        if self._lock_pid != os.getpid():
            self._lock_fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o640)
            self._lock_pid = os.getpid()
        return self._lock_fd

    def _open(self) -> None:
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        self._ino = os.fstat(self._fd).st_ino

    def _reopen_if_moved(self) -> None:
        try:
            moved = os.stat(self.path).st_ino != self._ino
        except FileNotFoundError:
            moved = True
        if moved:
            os.close(self._fd)
            self._open()

    def _rotate(self) -> None:
        for index in range(self.backups - 1, 0, -1):
            older = self.path.with_name(f"{self.path.name}.{index}")
            if older.exists():
                os.replace(older, self.path.with_name(f"{self.path.name}.{index + 1}"))
        os.replace(self.path, self.path.with_name(f"{self.path.name}.1"))
        os.close(self._fd)
        self._open()

    def write(self, text: str) -> int:
        data = text.encode("utf-8")
        with self._lock:
            if self.closed:
                raise ValueError("write to closed stream")
            fcntl.flock(self._process_lock_fd(), fcntl.LOCK_EX)
            try:
                self._reopen_if_moved()
                size = os.fstat(self._fd).st_size
                if size and size + len(data) > self.max_bytes:
                    self._rotate()
                os.write(self._fd, data)
            finally:
                fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
        return len(text)

    def flush(self) -> None:
        """Each write is already a system call; nothing is buffered here."""

    def close(self) -> None:
        with self._lock:
            if not self.closed:
                self.closed = True
                os.close(self._fd)
                if self._lock_pid == os.getpid():
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
        path or settings.data_dir / filename, settings.file_max_bytes, settings.file_backups
    )


def complete_lines(path: Path) -> Iterator[str]:
    """The lines of ``path`` that a writer has finished: a reader may catch a batch mid-write, and an
    unterminated last line is that batch, not corrupt data."""
    with path.open(encoding="utf-8", errors="replace") as handle:
        for line in handle:
            if not line.endswith("\n"):
                return
            if line.strip():
                yield line
