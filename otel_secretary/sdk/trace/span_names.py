"""Names an unrouted HTTP server span by its method only, as the HTTP semantic conventions require.

When no route matched (a 404, a scanner probing ``/wp-login.php``, ``/.env`` …), the WSGI fallback in
upstream's Flask instrumentation names the server span ``GET /<raw path>``. Every distinct path then
becomes a span name, a span-metrics series in the collector and in Prometheus: a scan of 10,000 paths
made 10,005 series. The conventions say ``{method} {http.route}`` when a route is known and the method
alone otherwise; this processor applies the second half at span start, for any framework, by looking
only at the attributes the instrumentation set (``http.route`` absent, a method present). The raw path
is still recorded in ``url.path`` for whoever opens the trace.
"""

from __future__ import annotations

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.trace import SpanKind

from otel_secretary._internal.self_monitoring import report_internal_error

_METHOD_KEYS = ("http.request.method", "http.method")
_KNOWN = {"CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "TRACE", "QUERY"}


class UnroutedSpanNameProcessor(SpanProcessor):
    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        try:
            if span.kind is not SpanKind.SERVER:
                return
            attributes = span.attributes or {}
            if "http.route" in attributes:
                return
            method = next((str(attributes[k]) for k in _METHOD_KEYS if k in attributes), None)
            if method is None:
                return
            wanted = method if method in _KNOWN else "HTTP"
            if span.name != wanted and span.name.startswith((f"{method} ", f"{wanted} ")):
                span.update_name(wanted)
        except Exception as exc:
            report_internal_error("span_names.on_start", exc)

    def on_end(self, span: ReadableSpan) -> None:
        return None
