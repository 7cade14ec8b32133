"""Names learned from spans while they are still open, so a request's log lines are masked with them.

The masker masks a name wherever it recurs in a trace once a structured place of that trace taught it
(an attendee key, a ``name`` key, an e-mail's local part). Learning only when spans were exported came
too late for logs: the SDK exports log records every second and spans every five, and a request's log
lines are written while its span is open, so "Drafting the invite for Priya" went out before the span
carrying ``attendee.name = "Priya Natarajan"`` was even ended.

So this span processor keeps the open spans of each trace (bounded) and learns from every span when it
ends, in the thread that ends it; and the log exporter (before masking a batch) and the console
logging filter (before masking a line) learn from the spans still open in their traces, as their
attributes stand at that moment. An open span is read again only when it has gained attributes or
events since it was last read, so a request that logs many lines pays for its spans once. Missed: a
name set on a span after a line naming it was written, and a name that replaces an existing
attribute's value while the span is open. Nothing here is exported or logged.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any, Final

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor

from otel_secretary._internal.fork_reset import reset_in_forked_child
from otel_secretary._internal.self_monitoring import report_internal_error
from otel_secretary.pii._masker import Masker
from otel_secretary.sdk.trace.ended_attributes import ended_attributes, ended_events, sdk_attribute_dict

# Open spans kept per process: traces beyond it are forgotten oldest first (a span that is never
# ended, e.g. an abandoned generator's, must not hold memory forever); their names are still learned
# when their spans end.
MAX_TRACES: Final = 4096
MAX_SPANS_PER_TRACE: Final = 256


class LiveNameLearning(SpanProcessor):
    """Learn names from spans as they end, and from open spans when their trace's logs are exported."""

    def __init__(self, masker: Masker) -> None:
        self._masker = masker
        # trace id -> span id -> [span, attributes and events it had when last learned from]
        self._open: OrderedDict[int, dict[int, list[Any]]] = OrderedDict()
        self._lock = threading.Lock()
        masker.live_learning = self
        # A child of fork() starts with no open spans and a lock nobody holds (the parent's export
        # thread may have held it at the fork, and every span start in the child would wait for ever).
        reset_in_forked_child(self, _forget_parent)

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        try:
            context = span.get_span_context()
            with self._lock:
                spans = self._open.get(context.trace_id)
                if spans is None:
                    spans = self._open[context.trace_id] = {}
                    if len(self._open) > MAX_TRACES:
                        self._open.popitem(last=False)
                if len(spans) < MAX_SPANS_PER_TRACE:
                    spans[context.span_id] = [span, -1]
        except Exception as exc:
            report_internal_error("pii.live_learning.on_start", exc)

    def on_end(self, span: ReadableSpan) -> None:
        try:
            context = span.context
            if context is None:
                return
            trace_id = context.trace_id
            with self._lock:
                spans = self._open.get(trace_id)
                if spans is not None:
                    spans.pop(context.span_id, None)
                    if not spans:
                        del self._open[trace_id]
            self._learn(trace_id, span)
        except Exception as exc:
            report_internal_error("pii.live_learning.on_end", exc)

    def learn_open_spans(self, trace_ids: Iterable[int]) -> None:
        """What the open spans of these traces hold right now (for the log exporter and console filter)."""
        for trace_id in trace_ids:
            with self._lock:
                entries = list(self._open.get(trace_id, {}).values())
            for entry in entries:
                span = entry[0]
                size = len(span.attributes) + len(span.events)  # neither takes a lock
                if size != entry[1]:
                    entry[1] = size
                    self._learn_open(trace_id, span)

    def _learn_open(self, trace_id: int, span: ReadableSpan) -> None:
        """An open span's attributes, read without its lock.

        The SDK logs ("Attributes dict is full", "Setting attribute on ended span") while it holds a
        span's locks, and the console filter learns from the open spans of the line's trace: reading
        attributes the public way (iteration takes the attribute lock) would wait on a lock this very
        thread holds. A ``dict`` copy of the SDK's storage is atomic under the GIL (string keys), so
        it is taken instead; an SDK without that storage (checked by a test) is not read at all.
        """
        masker = self._masker
        masker.learn(trace_id, _unlocked_attributes(span))
        for event in span.events:  # a tuple copy, no lock; event attributes are immutable
            masker.learn(trace_id, event.attributes)

    def _learn(self, trace_id: int, span: ReadableSpan) -> None:
        masker = self._masker
        masker.learn(trace_id, ended_attributes(span))
        for event in ended_events(span):
            masker.learn(trace_id, event.attributes)

    def shutdown(self) -> None:
        with self._lock:
            self._open.clear()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def _unlocked_attributes(span: ReadableSpan) -> dict[str, Any] | None:
    storage = sdk_attribute_dict(getattr(span, "_attributes", None))
    return dict(storage) if storage is not None else None


def _forget_parent(learning: LiveNameLearning) -> None:
    learning._lock = threading.Lock()
    learning._open = OrderedDict()
