"""Fork while another thread holds a lock: what a prefork server does while our threads run."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import Any

HUNG = -9


def fork_while_held(lock: Any, in_child: Callable[[], bool], seconds: float = 20.0) -> int:
    """Hold ``lock`` in another thread, fork, run ``in_child`` in the child; the child's exit status
    (0 when ``in_child`` returned True, 1 when False or raised, :data:`HUNG` when killed after
    ``seconds``). The parent releases the lock right after the fork, as the parent's thread would."""
    taken, release = threading.Event(), threading.Event()

    def hold() -> None:
        with lock:
            taken.set()
            release.wait(30)

    holder = threading.Thread(target=hold, daemon=True)
    holder.start()
    assert taken.wait(10)
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            os._exit(0 if in_child() else 1)
        finally:
            os._exit(1)
    release.set()
    holder.join(10)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.05)
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    return HUNG
