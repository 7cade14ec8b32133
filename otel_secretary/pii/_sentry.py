"""Sentry ``before_send`` / ``before_send_transaction`` / ``before_breadcrumb`` masking.

sentry-sdk's ``EventScrubber`` matches exact key names only and skips the exception message; this walks
the whole event (message, exception values, frame vars, request, breadcrumbs, spans' data) with the same
masker as the OTel pipeline. An event that cannot be masked is dropped, never sent raw.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from otel_secretary.pii._masker import Masker, Redactions

SentryHook = Callable[[Any, Any], Any]

# Structural fields Sentry needs verbatim; none can carry user data.
_KEEP = frozenset(
    {
        "event_id",
        "trace_id",
        "span_id",
        "parent_span_id",
        "timestamp",
        "start_timestamp",
        "level",
        "platform",
        "type",
        "op",
        "status",
        "sdk",
        "release",
        "environment",
        "dist",
        "version",
        "lineno",
        "colno",
        "in_app",
        "category",
    }
)


def sentry_scrubber(masker: Masker) -> SentryHook:
    def scrub(event: Any, hint: Any) -> Any:
        redactions = Redactions()
        try:
            scrubbed = _walk(masker, None, event, redactions)
        except Exception:
            masker.note_failure("sentry")
            return None
        masker.record(redactions, "sentry")
        return scrubbed

    return scrub


def _walk(masker: Masker, key: str | None, value: Any, redactions: Redactions) -> Any:
    if isinstance(value, dict):
        return {k: (v if k in _KEEP else _walk(masker, str(k), v, redactions)) for k, v in value.items()}
    if isinstance(value, list):
        return [_walk(masker, key, item, redactions) for item in value]
    if isinstance(value, tuple):
        return tuple(_walk(masker, key, item, redactions) for item in value)
    if isinstance(value, str | bytes):
        return masker.mask_value(key, value, redactions)
    return value
