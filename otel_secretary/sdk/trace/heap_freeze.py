"""The heap a process has when it starts serving is moved out of the cyclic garbage collector's reach.

An instrumented process keeps far more long-lived objects than a bare one (the SDK, every
instrumentation, our detectors and caches, the app's own modules), and the per-request spans and
attribute dicts trigger the collector often. Each full (generation 2) collection walks that whole heap
while holding the GIL: ≈ 100 ms on the benchmark's Flask + SQLAlchemy app, which is what set our p99
(110 ms at 100 req/s; upstream's own distro 42 ms; bare 5 ms). ``gc.freeze()`` moves every object that
exists at the first request (or task) of a process into the permanent generation, which collections
skip: p99 went to 10 ms and CPU per request down by ≈ 7 % (benchmarks/bench_server.py, issue 15).

Why at the first SERVER or CONSUMER span: by then the app has imported everything it serves with, and
it runs once per process (a fork resets it, so every gunicorn worker and Celery child freezes its own
heap after it started). Objects frozen are still freed by reference counting; only garbage *cycles*
that exist at that moment are kept, once. ``OTEL_SECRETARY_GC_FREEZE=false`` turns it off.
"""

from __future__ import annotations

import gc
import os

from opentelemetry.context import Context
from opentelemetry.sdk.trace import Span, SpanProcessor
from opentelemetry.trace import SpanKind

from otel_secretary._internal.self_monitoring import report_internal_error

_SERVING = (SpanKind.SERVER, SpanKind.CONSUMER)


class HeapFreezeOnFirstRequest(SpanProcessor):
    """``gc.freeze()`` once per process, when it starts its first request or task."""

    def __init__(self) -> None:
        self.frozen = False
        os.register_at_fork(after_in_child=self._forked)

    def _forked(self) -> None:
        self.frozen = False

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        if self.frozen or span.kind not in _SERVING:
            return
        self.frozen = True
        try:
            gc.freeze()
        except Exception as exc:  # on the request path: never raise into the app
            report_internal_error("heap_freeze", exc)


__all__ = ["HeapFreezeOnFirstRequest"]
