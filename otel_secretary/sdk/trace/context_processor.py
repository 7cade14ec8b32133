"""Copies the request's tenant and pseudonymous user from W3C baggage onto every span.

Baggage crosses process boundaries (HTTP, Celery messages) with the trace context, so a span in a
Celery worker carries the tenant of the request that enqueued it. Copying happens in ``on_start``,
while the span is still writable; values are length-capped because baggage is caller-controlled.
"""

from __future__ import annotations

from opentelemetry import baggage
from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor

from otel_secretary._internal.self_monitoring import report_internal_error

TENANT_KEY = "app.tenant.id"
USER_KEY = "enduser.id"
_COPIED = (TENANT_KEY, USER_KEY)
_MAX_LEN = 128


class RequestContextSpanProcessor(SpanProcessor):
    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        try:
            entries = baggage.get_all(parent_context)
            if not entries:
                return
            for key in _COPIED:
                value = entries.get(key)
                if isinstance(value, str) and value:
                    span.set_attribute(key, value[:_MAX_LEN])
        except Exception as exc:  # on the request path: never raise into the app
            report_internal_error("context_processor.on_start", exc)

    def on_end(self, span: ReadableSpan) -> None:
        pass

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True
