"""A hook that renews what a forked child inherited in a state no thread of its own can undo.

``fork()`` copies every lock as it is: one that another thread of the parent held at that moment (an
export thread masking a batch, the metric reader collecting) stays held in the child for ever, and the
first app thread there that takes it hangs. Prefork servers (gunicorn, Celery) fork while those threads
run, so every lock our code takes from both app threads and background threads is renewed here. This
module imports nothing heavier than the standard library, so light modules can use it.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Callable
from typing import Protocol, TypeVar

Owner = TypeVar("Owner")


def reset_in_forked_child(owner: Owner, reset: Callable[[Owner], None]) -> None:
    """Call ``reset(owner)`` in every child forked while ``owner`` is alive.

    A lock that another thread of the parent held at ``fork()`` is held for ever in the child, and
    prefork servers (gunicorn, Celery) fork while our export threads run: anything taken from the app's
    threads must get a fresh lock there. Only a weak reference is registered, so an owner can still be
    collected; ``reset`` must therefore be a plain function, not a method bound to ``owner``.
    """
    ref = weakref.ref(owner)

    def _in_child() -> None:
        if (alive := ref()) is not None:
            reset(alive)

    os.register_at_fork(after_in_child=_in_child)


class _HasLock(Protocol):
    _lock: threading.Lock


def renew_lock(owner: _HasLock) -> None:
    """The usual reset: a fresh ``_lock`` (what it guarded is consistent: the holder was mid-update only
    in another process's thread, and these objects keep caches and counts, not invariants across fields)."""
    owner._lock = threading.Lock()
