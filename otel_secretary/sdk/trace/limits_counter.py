"""Counts spans that the attribute limits cut, so a truncated prompt or a dropped attribute is visible.

The SDK applies ``OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT`` and ``OTEL_ATTRIBUTE_COUNT_LIMIT`` (the distro sets
8192 and 128) silently: the span keeps only ``dropped_attributes_count``, and a cut value looks like any
other. ``otel_secretary.telemetry.limited{signal="spans", limit="attribute_count"|"attribute_length"|
"events"|"links"}`` counts spans that lost something; a string value exactly at the length limit is
counted as cut (an uncut value that long is rare, and the alternative is keeping every original).
"""

from __future__ import annotations

import os

from opentelemetry import metrics
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor

from otel_secretary import semconv
from otel_secretary._internal.self_monitoring import report_internal_error
from otel_secretary.sdk.trace.ended_attributes import ended_attributes

_counter = semconv.counter(metrics.get_meter("otel_secretary"), semconv.TELEMETRY_LIMITED)


def _length_limit() -> int | None:
    raw = os.environ.get("OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT") or os.environ.get(
        "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT"
    )
    try:
        return int(raw) if raw else None
    except ValueError:
        return None


class AttributeLimitsCounter(SpanProcessor):
    def __init__(self) -> None:
        self._length = _length_limit()

    def on_end(self, span: ReadableSpan) -> None:
        try:
            if span.dropped_attributes:
                _counter.add(1, {"signal": "spans", "limit": "attribute_count"})
            if span.dropped_events:
                _counter.add(1, {"signal": "spans", "limit": "events"})
            if span.dropped_links:
                _counter.add(1, {"signal": "spans", "limit": "links"})
            length = self._length
            if length:
                for value in ended_attributes(span).values():
                    if type(value) is str and len(value) == length:
                        _counter.add(1, {"signal": "spans", "limit": "attribute_length"})
                        break
        except Exception as exc:
            report_internal_error("limits_counter.on_end", exc)
