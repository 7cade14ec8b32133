"""Failures inside otel-secretary itself: caught, counted, logged once per place, never raised.

The host app must keep serving whatever our code does; an SRE must still be able to see that
telemetry is degraded. So each failure increments ``otel_secretary.internal.errors`` (by place and
exception type, both low-cardinality) and the first failure of each place is logged with its
traceback; later ones only count, so a broken exporter cannot flood the app's logs.
"""

from __future__ import annotations

import logging
import os
import sys
import threading

from opentelemetry import metrics

_logger = logging.getLogger("otel_secretary")
_lock = threading.Lock()


def _renew_lock() -> None:
    global _lock
    _lock = threading.Lock()


# Reported from background threads too: one holding the lock at fork must not freeze the child.
os.register_at_fork(after_in_child=_renew_lock)
_logged: set[str] = set()
_counts: dict[str, int] = {}
_counter = metrics.get_meter("otel_secretary").create_counter(
    "otel_secretary.internal.errors",
    unit="{error}",
    description="Exceptions raised inside otel-secretary and swallowed to protect the host app.",
)


def report_internal_error(where: str, exc: BaseException) -> None:
    """Count ``exc`` raised at ``where``; log it the first time only. Never raises."""
    try:
        with _lock:
            first = where not in _logged
            _logged.add(where)
            _counts[where] = _counts.get(where, 0) + 1
        _counter.add(1, {"otel_secretary.where": where, "error.type": type(exc).__qualname__})
        if first:
            _logger.warning("otel-secretary: %s failed; the app continues (logged once)", where, exc_info=exc)
    except Exception:  # pragma: no cover - last line of defence
        pass


def internal_error_counts() -> dict[str, int]:
    """Failures so far by place; what the CLI and tests read."""
    with _lock:
        return dict(_counts)


def is_bad_input(exc: BaseException) -> bool:
    """A user's file or setting is wrong (settings, PII patterns, rule specs, prices, channels).

    Each of those raises a ``ValueError`` subclass of ours whose message names the variable or the
    file, line and field; such an error deserves that one line, not a traceback of our internals.
    """
    return isinstance(exc, ValueError) and type(exc).__module__.startswith("otel_secretary.")


def say_disabled(what: str, exc: BaseException) -> None:
    """One plain line on stderr: the launcher swallows exceptions, an operator must still see why."""
    print(f"otel-secretary: {what} disabled: {exc}", file=sys.stderr, flush=True)
