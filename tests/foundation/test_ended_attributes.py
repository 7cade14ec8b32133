"""Processors on the request path read an ended span's attributes from the SDK's own dict."""

from __future__ import annotations

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider

from otel_secretary.sdk.trace.ended_attributes import ended_attributes


def test_an_ended_sdk_span_is_read_from_its_plain_dict() -> None:
    span = TracerProvider().get_tracer("t").start_span("s", attributes={"a": 1, "b": "x"})
    span.end()
    attributes = ended_attributes(span)
    assert type(attributes) is dict  # not the MappingProxy over BoundedAttributes the public property gives
    assert attributes == dict(span.attributes or {}) == {"a": 1, "b": "x"}
    span.set_attribute("c", 2)  # refused on an ended span: the dict read above stays whole
    assert attributes == {"a": 1, "b": "x"}


def test_a_span_without_the_sdk_storage_is_read_the_public_way() -> None:
    span = ReadableSpan(name="other", attributes={"k": "v"})
    assert dict(ended_attributes(span)) == {"k": "v"}
    assert dict(ended_attributes(ReadableSpan(name="empty"))) == {}
