"""A process-wide default object, built on first use and replaceable: one shape for every such default.

Decorators and helpers run at import time, before ``configure()`` has built the real providers and
settings, so their defaults (the error recorder, the masker, the GenAI telemetry) must be built late,
exactly once even when two threads ask together, and be replaceable by ``install``/tests. Three
hand-written copies of that double-checked lock had drifted; this is the one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class LazyDefault(Generic[T]):
    """``get()`` builds the value on first use; ``set(None)`` makes the next ``get`` build it again."""

    def __init__(self, build: Callable[[], T]) -> None:
        self._build = build
        self._value: T | None = None
        self._lock = threading.Lock()

    def get(self) -> T:
        value = self._value
        if value is None:
            with self._lock:
                value = self._value
                if value is None:
                    value = self._value = self._build()
        return value

    def set(self, value: T | None) -> None:
        with self._lock:
            self._value = value


__all__ = ["LazyDefault"]
