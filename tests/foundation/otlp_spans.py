"""Spans of every kind of value, resource and scope: what the encoder tests compare with upstream's."""

from __future__ import annotations

import math

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags, TraceState

VALUES: dict[str, object] = {
    "s": 'text with ünïcode ✓ and "quotes"',
    "empty": "",
    "i": 42,
    "neg": -(2**62),
    "f": 1.5,
    "nan": math.nan,
    "inf": -math.inf,
    "b": True,
    "strs": ("a", "b"),
    "ints": [1, 2, 3],
    "floats": (0.25,),
    "bools": (True, False),
    "none_list": (),
}


def every_kind_of_span() -> list[ReadableSpan]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource({"service.name": "svc", "deployment.environment.name": "t"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("scope.a", "1.2.3", schema_url="https://opentelemetry.io/schemas/1.30.0")
    other = provider.get_tracer("scope.b", attributes={"scope.attr": "x"})
    state = TraceState([("k", "v")])
    remote = SpanContext(0xABC, 0xDEF, is_remote=True, trace_flags=TraceFlags(1), trace_state=state)
    with tracer.start_as_current_span("server", kind=SpanKind.SERVER, attributes=VALUES) as server:
        server.add_event("evt", {"e": 1, "f": "g"})
        server.add_event("")
        with other.start_as_current_span("client", kind=SpanKind.CLIENT, links=[Link(remote, {"l": 1})]) as c:
            c.set_status(Status(StatusCode.ERROR, "boom"))
        with tracer.start_as_current_span("ok", kind=SpanKind.CONSUMER) as ok:
            ok.set_status(Status(StatusCode.OK))
    from opentelemetry import trace

    ctx = trace.set_span_in_context(trace.NonRecordingSpan(remote))
    with tracer.start_as_current_span("child-of-remote", context=ctx, kind=SpanKind.PRODUCER):
        pass
    # A second provider with an equal but distinct Resource: upstream merges them into one entry.
    provider2 = TracerProvider(resource=Resource({"service.name": "svc", "deployment.environment.name": "t"}))
    provider2.add_span_processor(SimpleSpanProcessor(exporter))
    with provider2.get_tracer("scope.a").start_as_current_span("p2"):
        pass
    provider3 = TracerProvider(resource=Resource({"service.name": "other"}, "https://schema/x"))
    provider3.add_span_processor(SimpleSpanProcessor(exporter))
    with provider3.get_tracer("scope.c").start_as_current_span("p3"):
        pass
    return list(exporter.get_finished_spans())
