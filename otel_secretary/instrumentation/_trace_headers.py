"""Trace context for a third-party API call (OpenAI, Stripe, Google): ``traceparent``, never baggage.

Our instrumentations suppress the generic HTTP client spans inside each attempt, so they inject the
trace context themselves. The destination is a provider's API, a third party: baggage (tenant,
pseudonymous user, conversation) is ours alone, and the distro's ``BaggagePolicyPropagator`` sends it
only to our own queue. Here that holds whatever the app configured, distro or not.

``propagate.inject`` walks the composite propagator (trace context, then baggage, each with its own
current-span lookup and setter call): about 12 µs inside a real model call, once per attempt. When
the configured propagators write only W3C headers (their public ``fields``), the two headers are
formatted here from the span context, exactly as ``TraceContextTextMapPropagator`` formats them.
Anything else (B3, X-Ray, Sentry's propagator) goes through the configured propagator, with the
baggage taken out of the context it is given.
"""

from __future__ import annotations

from typing import Any, Final

from opentelemetry import baggage, propagate, trace
from opentelemetry.context import Context, get_current
from opentelemetry.propagators.textmap import TextMapPropagator

_W3C_FIELDS: Final = frozenset({"traceparent", "tracestate", "baggage"})
# (the global propagator it was decided for, whether the W3C-only fast path applies)
_decided: tuple[TextMapPropagator | None, bool] = (None, False)


def _w3c_only(textmap: TextMapPropagator) -> bool:
    global _decided
    decided_for, fast = _decided
    if decided_for is not textmap:
        fields = set(textmap.fields)
        fast = "traceparent" in fields and fields <= _W3C_FIELDS
        _decided = (textmap, fast)
    return fast


def inject_trace_context(carrier: Any, context: Context | None = None) -> None:
    """Write this context's trace headers into ``carrier`` (a mutable mapping of outgoing headers)."""
    ctx = context if context is not None else get_current()
    textmap = propagate.get_global_textmap()
    if not _w3c_only(textmap):
        textmap.inject(carrier, baggage.clear(ctx))
        return
    span_context = trace.get_current_span(ctx).get_span_context()
    if not span_context.is_valid:
        return
    carrier["traceparent"] = (
        f"00-{span_context.trace_id:032x}-{span_context.span_id:016x}-{span_context.trace_flags:02x}"
    )
    if span_context.trace_state:
        carrier["tracestate"] = span_context.trace_state.to_header()
