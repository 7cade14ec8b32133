"""inject_trace_context: the headers a provider's API gets are upstream's trace context, never baggage."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry import baggage, propagate, trace
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.context import Context
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.propagators.textmap import CarrierT, Getter, Setter, TextMapPropagator, default_setter
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, TraceState
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from otel_secretary.context import BaggagePolicyPropagator
from otel_secretary.instrumentation._trace_headers import inject_trace_context


class SingleHeader(TextMapPropagator):
    """A vendor propagator (B3-like): one header of its own, and it writes the baggage it sees."""

    def extract(
        self, carrier: CarrierT, context: Context | None = None, getter: Getter[CarrierT] = ...
    ) -> Context:  # type: ignore[assignment]
        return context or Context()

    def inject(
        self, carrier: CarrierT, context: Context | None = None, setter: Setter[CarrierT] = default_setter
    ) -> None:
        span_context = trace.get_current_span(context).get_span_context()
        setter.set(carrier, "x-vendor-trace", f"{span_context.trace_id:x}")
        setter.set(carrier, "x-vendor-baggage", ",".join(sorted(baggage.get_all(context))))

    @property
    def fields(self) -> set[str]:
        return {"x-vendor-trace", "x-vendor-baggage"}


@pytest.fixture
def global_textmap() -> Iterator[None]:
    before = propagate.get_global_textmap()
    yield
    propagate.set_global_textmap(before)


def _context(flags: int, state: TraceState | None = None) -> Context:
    span_context = SpanContext(
        trace_id=0x0AF7651916CD43DD8448EB211C80319C,
        span_id=0xB7AD6B7169203331,
        is_remote=False,
        trace_flags=TraceFlags(flags),
        trace_state=state,
    )
    ctx = trace.set_span_in_context(NonRecordingSpan(span_context))
    return baggage.set_baggage("enduser.id", "u-123", ctx)


def _upstream_headers(ctx: Context) -> dict[str, str]:
    carrier: dict[str, str] = {}
    TraceContextTextMapPropagator().inject(carrier, ctx)
    return carrier


@pytest.mark.parametrize(
    "textmap",
    [
        CompositePropagator([TraceContextTextMapPropagator(), W3CBaggagePropagator()]),
        BaggagePolicyPropagator(
            CompositePropagator([TraceContextTextMapPropagator(), W3CBaggagePropagator()])
        ),
        TraceContextTextMapPropagator(),
    ],
    ids=["default", "distro", "tracecontext-only"],
)
@pytest.mark.parametrize(
    ("flags", "state"),
    [(1, None), (0, None), (1, TraceState([("vendor", "opaque"), ("other", "x")]))],
    ids=["sampled", "unsampled", "tracestate"],
)
def test_w3c_headers_match_upstream_and_carry_no_baggage(
    global_textmap: None, textmap: TextMapPropagator, flags: int, state: TraceState | None
) -> None:
    propagate.set_global_textmap(textmap)
    ctx = _context(flags, state)
    carrier: dict[str, str] = {}
    inject_trace_context(carrier, ctx)
    assert carrier == _upstream_headers(ctx)
    assert "baggage" not in carrier


def test_no_valid_span_means_no_headers(global_textmap: None) -> None:
    propagate.set_global_textmap(
        CompositePropagator([TraceContextTextMapPropagator(), W3CBaggagePropagator()])
    )
    carrier: dict[str, str] = {}
    inject_trace_context(carrier, baggage.set_baggage("enduser.id", "u-123", Context()))
    assert carrier == {}


def test_another_propagator_is_used_as_configured_without_baggage(global_textmap: None) -> None:
    propagate.set_global_textmap(CompositePropagator([SingleHeader(), W3CBaggagePropagator()]))
    carrier: dict[str, str] = {}
    inject_trace_context(carrier, _context(1))
    assert carrier == {"x-vendor-trace": "af7651916cd43dd8448eb211c80319c", "x-vendor-baggage": ""}


def test_a_propagator_replaced_at_run_time_is_followed(global_textmap: None) -> None:
    ctx = _context(1)
    propagate.set_global_textmap(TraceContextTextMapPropagator())
    first: dict[str, str] = {}
    inject_trace_context(first, ctx)
    propagate.set_global_textmap(SingleHeader())
    second: dict[str, str] = {}
    inject_trace_context(second, ctx)
    assert "traceparent" in first
    assert "traceparent" not in second and "x-vendor-trace" in second
