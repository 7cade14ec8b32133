"""The pipeline's resource hashes once, and still groups exactly like the SDK's own Resource."""

from __future__ import annotations

import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk import resources
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from otel_secretary.pipeline import build_resource
from otel_secretary.settings import Settings


def test_the_hash_is_the_sdks_and_is_not_recomputed(monkeypatch: pytest.MonkeyPatch) -> None:
    resource = build_resource(Settings(), {"app.test.owner": "billing"})
    plain = Resource(resource.attributes, resource.schema_url)
    assert hash(resource) == hash(plain) and resource == plain and plain == resource
    assert resource.attributes["app.test.owner"] == "billing"

    def no_more_dumps(*args: object, **kwargs: object) -> str:
        raise AssertionError("Resource.__hash__ serialised the attributes again")

    monkeypatch.setattr(resources, "dumps", no_more_dumps)
    assert hash(resource) == hash(resource)
    with pytest.raises(AssertionError):
        hash(plain)  # the SDK's own class does serialise per call: the patch is in effect


def test_spans_of_both_resource_kinds_encode_into_one_resource_group() -> None:
    resource = build_resource(Settings(), {"app.test.owner": "billing"})
    exporter = InMemorySpanExporter()
    for owner in (resource, Resource(resource.attributes, resource.schema_url)):
        provider = TracerProvider(resource=owner)
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        provider.get_tracer("t").start_span("work").end()
    spans = list(exporter.get_finished_spans())
    encoded = encode_spans(spans)
    assert len(spans) == 2 and len(encoded.resource_spans) == 1
    assert len(encoded.resource_spans[0].scope_spans[0].spans) == 2
