"""Bounded flushes where a process ends without the SDK's ``atexit`` shutdown running.

The SDK flushes its batch queues in an ``atexit`` hook. Three common endings skip it:

* SIGTERM with Python's default disposition (``flask run``, plain scripts, a Celery pool child): the
  process dies at once, losing up to ``OTEL_BSP_SCHEDULE_DELAY`` (5 s) of spans and logs;
* a Celery prefork child that leaves after ``--max-tasks-per-child`` or on shutdown: billiard ends it
  with ``os._exit()`` (upstream contrib #4916: 0 of 6 task spans exported);
* anything else that calls ``os._exit()``.

Each flush here runs in a helper thread and is waited for at most :data:`FLUSH_SECONDS`, because the
SDK's ``force_flush`` ignores its timeout and an exporter may hang on a dead collector: a shutdown must
never wait on telemetry longer than that. Signal handlers chain to whatever was installed before, so
the app's own handlers and Python's default behaviour (``KeyboardInterrupt``, death by SIGTERM with
its exit status) are unchanged.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any, Protocol

#: The longest a signal or a pool child's exit waits for telemetry to leave the process.
FLUSH_SECONDS = 5.0


class Flushable(Protocol):
    def force_flush(self, timeout_millis: int = 30_000) -> bool: ...


class Shutdownable(Protocol):
    def shutdown(self) -> None: ...


_flushing = threading.Event()


def flush_within(target: Flushable, seconds: float = FLUSH_SECONDS) -> bool:
    """``target.force_flush()`` in a helper thread, waited for at most ``seconds``; never raises.

    True when everything was handed to the exporters in time. A flush already running (a second
    signal during the first flush, or one abandoned after its bound) is not started again: False."""
    if _flushing.is_set():
        return False
    _flushing.set()

    def flush() -> bool:
        try:
            return bool(target.force_flush(int(seconds * 1000)))
        finally:
            _flushing.clear()

    started = _within(flush, seconds, "flush_on_exit")
    if started is None:
        _flushing.clear()
    return bool(started)


def shutdown_within(target: Shutdownable, seconds: float = FLUSH_SECONDS) -> bool:
    """``target.shutdown()`` (flush, then close the exporters) waited for at most ``seconds``.

    Registered with ``atexit`` after the SDK's own hooks, so it runs first; a shutdown that completes
    unregisters the SDK's hooks, one that hangs on a dead collector leaves them with nothing to wait
    for (the batch processors are already shut), so a normal exit costs at most ``seconds``."""

    def shutdown() -> bool:
        target.shutdown()
        return True

    return bool(_within(shutdown, seconds, "shutdown_at_exit"))


def _within(call: Callable[[], bool], seconds: float, where: str) -> bool | None:
    """Run ``call`` in a daemon thread; its result if it ended within ``seconds``, False if not or if
    it raised (counted), None if no thread could be started (interpreter finalising)."""
    done = threading.Event()
    outcome = {"ok": False}

    def run() -> None:
        try:
            outcome["ok"] = call()
        except Exception as exc:
            from otel_secretary._internal.self_monitoring import report_internal_error

            report_internal_error(where, exc)
        finally:
            done.set()

    try:
        threading.Thread(target=run, name=f"otel-secretary-{where}", daemon=True).start()
    except Exception:
        return None
    return done.wait(seconds) and outcome["ok"]


SignalHandler = Callable[[int, FrameType | None], Any]


def install_signal_flush(target: Flushable, signals: tuple[int, ...] | None = None) -> list[int]:
    """Flush ``target`` (bounded) on SIGTERM and SIGINT, then do what the process did before.

    Only from the main thread (Python allows signal handlers nowhere else); a signal the process
    ignores stays ignored; ours is never installed twice on one signal. Returns the signals handled."""
    if threading.current_thread() is not threading.main_thread():
        return []
    installed: list[int] = []
    for signum in signals if signals is not None else (signal.SIGTERM, signal.SIGINT):
        previous = signal.getsignal(signum)
        if previous is None or previous == signal.SIG_IGN or getattr(previous, "_otel_secretary", False):
            continue
        signal.signal(signum, _flush_then(target, previous))
        installed.append(signum)
    return installed


def _flush_then(target: Flushable, previous: Any) -> SignalHandler:
    def on_signal(signum: int, frame: FrameType | None) -> Any:
        flush_within(target)
        if callable(previous):
            return previous(signum, frame)  # the app's handler, or Python's KeyboardInterrupt
        # SIG_DFL: end as the signal would have ended us (same exit status for the supervisor).
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)
        return None

    on_signal._otel_secretary = True  # type: ignore[attr-defined]
    return on_signal
