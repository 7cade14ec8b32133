"""One 10 MB attribute among 50 normal spans, through the REAL collector into the REAL Jaeger.

Before: Jaeger's 4 MiB gRPC limit made the collector's export fail and all 51 spans were lost while the
sender was told "success". Now the collector cuts oversized values (transform/limits) and splits its
requests to Jaeger by size, so the 50 normal spans arrive and the big one arrives cut and tagged. The
sender is a plain OpenTelemetry SDK (no otel-secretary limits), as any sender bypassing ours would be."""

from __future__ import annotations

import uuid

import pytest
from opentelemetry.trace import SpanKind

from tests.e2e._apis import eventually, spans_of, tags
from tests.e2e._otlp import plain_tracer_provider
from tests.e2e.conftest import RunningStack

pytestmark = pytest.mark.e2e


def test_one_oversized_span_does_not_sink_its_batch(running_stack: RunningStack) -> None:
    service = f"e2e-oversized-{uuid.uuid4().hex[:8]}"
    provider = plain_tracer_provider(running_stack.otlp_http, service)
    tracer = provider.get_tracer("oversized")
    for i in range(25):
        with tracer.start_as_current_span(f"normal {i}", kind=SpanKind.INTERNAL) as span:
            span.set_attribute("item.index", i)
    with tracer.start_as_current_span("huge", kind=SpanKind.INTERNAL) as span:
        span.set_attribute("synthetic.document", "z" * 10_000_000)
    for i in range(25, 50):
        with tracer.start_as_current_span(f"normal {i}", kind=SpanKind.INTERNAL) as span:
            span.set_attribute("item.index", i)
    assert provider.force_flush(60_000)  # one batch of 51 spans, > 10 MB: the SDK sends it whole
    provider.shutdown()

    def stored() -> list[dict[str, object]] | None:
        spans = [s for t in running_stack.jaeger.traces(service, limit=500) for s in spans_of(t)]
        return spans if len(spans) >= 51 else None

    spans = eventually(stored, timeout=90, what="all 51 spans in Jaeger")
    names = sorted(str(s["operationName"]) for s in spans)
    assert names == sorted([f"normal {i}" for i in range(50)] + ["huge"])
    assert all(
        tags(s)["item.index"] == int(str(s["operationName"]).split()[1])
        for s in spans
        if s["operationName"] != "huge"
    )
    (huge,) = [s for s in spans if s["operationName"] == "huge"]
    assert len(tags(huge)["synthetic.document"]) == 8192
    assert tags(huge)["otel_secretary.truncated"] is True
    assert not any("otel_secretary.truncated" in tags(s) for s in spans if s is not huge)
