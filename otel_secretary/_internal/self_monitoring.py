"""Failures inside otel-secretary itself: caught, counted, logged once per place, never raised.

The host app must keep serving whatever our code does; an SRE must still be able to see that
telemetry is degraded. So each failure increments ``otel_secretary.internal.errors`` (by place and
exception type, both low-cardinality) and the first failure of each place is logged with its
traceback; later ones only count, so a broken exporter cannot flood the app's logs.

Telemetry we could not deliver (export failures, a full disk, an unwritable data folder, a full queue,
notifications given up on) is a different kind of trouble: nobody reads the OTel log pipeline when it is
the thing that is down. So :func:`report_dropped` counts it in ``otel_secretary.telemetry.dropped`` (by
signal and reason) and says it in ONE line on stderr, the first time and then at most once per
``REPORT_EVERY_SECONDS`` per cause, with the running total; :func:`report_recovered` says when it ends.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from dataclasses import dataclass

from opentelemetry import metrics

from otel_secretary import semconv
from otel_secretary.config_error import ConfigError

_logger = logging.getLogger("otel_secretary")
_lock = threading.Lock()


#: Least time between two stderr lines about the same cause (signal, reason).
REPORT_EVERY_SECONDS = 60.0


def _renew_lock() -> None:
    global _lock
    _lock = threading.Lock()


# Reported from background threads too: one holding the lock at fork must not freeze the child.
os.register_at_fork(after_in_child=_renew_lock)
_logged: set[str] = set()
_counts: dict[str, int] = {}
_counter = semconv.counter(metrics.get_meter("otel_secretary"), semconv.INTERNAL_ERRORS)
_dropped_counter = semconv.counter(metrics.get_meter("otel_secretary"), semconv.TELEMETRY_DROPPED)


@dataclass
class _Trouble:
    """One ongoing cause of loss: what was said on stderr and what has been counted since."""

    total: int = 0
    unreported: int = 0
    last_said: float = 0.0


_troubles: dict[tuple[str, str], _Trouble] = {}
_dropped_totals: dict[tuple[str, str], int] = {}


def report_internal_error(where: str, exc: BaseException) -> None:
    """Count ``exc`` raised at ``where``; log it the first time only. Never raises."""
    try:
        with _lock:
            first = where not in _logged
            _logged.add(where)
            _counts[where] = _counts.get(where, 0) + 1
        _counter.add(1, {semconv.INTERNAL_WHERE: where, "error.type": type(exc).__qualname__})
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

    Each of those raises a :class:`~otel_secretary.config_error.ConfigError` whose message names the
    variable or the file, line and field; such an error deserves that one line, not a traceback of our
    internals.
    """
    return isinstance(exc, ConfigError)


def say_disabled(what: str, exc: BaseException) -> None:
    """One plain line on stderr: the launcher swallows exceptions, an operator must still see why."""
    print(f"otel-secretary: {what} disabled: {exc}", file=sys.stderr, flush=True)


def _one_line(text: str, limit: int = 300) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def report_dropped(signal: str, reason: str, count: int, detail: str) -> None:
    """``count`` items of ``signal`` (spans, logs, metrics, notifications) were lost for ``reason``.

    Counted every time; said on stderr the first time and then at most every ``REPORT_EVERY_SECONDS``
    (with what was lost in between), so a dead collector costs one line a minute, not one per batch.
    ``detail`` must name a place (path, endpoint, channel), never telemetry content. Never raises."""
    try:
        key = (signal, reason)
        now = time.monotonic()
        with _lock:
            trouble = _troubles.setdefault(key, _Trouble())
            trouble.total += count
            trouble.unreported += count
            _dropped_totals[key] = _dropped_totals.get(key, 0) + count
            say = trouble.last_said == 0.0 or now - trouble.last_said >= REPORT_EVERY_SECONDS
            if say:
                lost, total = trouble.unreported, trouble.total
                trouble.unreported, trouble.last_said = 0, now
        _dropped_counter.add(count, {"signal": signal, "reason": reason})
        if say:
            since = "" if lost == total else f" ({total} since this began)"
            print(
                f"otel-secretary: {signal} dropped ({reason}): {lost}{since}; {_one_line(detail)}; the app "
                f"continues; counted in otel_secretary_telemetry_dropped_total; next note in "
                f"{REPORT_EVERY_SECONDS:.0f}s at most",
                file=sys.stderr,
                flush=True,
            )
    except Exception:  # pragma: no cover - last line of defence
        pass


def report_recovered(signal: str, reason: str) -> None:
    """The cause behind earlier :func:`report_dropped` calls is gone (an export succeeded again): say
    so once, and let a new failure be said at once. Cheap when nothing was wrong. Never raises."""
    try:
        key = (signal, reason)
        if key not in _troubles:  # unlocked read: the common, healthy path costs one dict lookup
            return
        with _lock:
            trouble = _troubles.pop(key, None)
        if trouble is not None:
            print(
                f"otel-secretary: {signal} delivery recovered ({reason} ended); {trouble.total} lost while "
                "it lasted",
                file=sys.stderr,
                flush=True,
            )
    except Exception:  # pragma: no cover - last line of defence
        pass


def dropped_counts() -> dict[tuple[str, str], int]:
    """Items lost so far by (signal, reason); what the CLI and tests read."""
    with _lock:
        return dict(_dropped_totals)


def _forget_troubles_for_tests() -> None:
    """Let the next loss be said at once (the stderr notes are per process, tests share one)."""
    with _lock:
        _troubles.clear()
