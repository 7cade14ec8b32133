"""Processors on the request path read an ended span's attributes from the SDK's own dict."""

from __future__ import annotations

from typing import Any

from opentelemetry.sdk.trace import Event, ReadableSpan, TracerProvider
from opentelemetry.trace import Link

from otel_secretary.sdk.trace.ended_attributes import ended_attributes, ended_events, ended_links


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


def test_events_and_links_are_read_the_public_way_unless_there_are_none() -> None:
    tracer = TracerProvider().get_tracer("t")
    plain = tracer.start_span("plain")
    plain.end()
    assert ended_events(plain) == () and ended_links(plain) == ()
    linked = tracer.start_span("linked", links=[Link(plain.get_span_context(), {"why": "retry"})])
    linked.add_event("sent", {"n": 1})
    linked.end()
    assert [event.name for event in ended_events(linked)] == ["sent"]
    assert [dict(link.attributes or {}) for link in ended_links(linked)] == [{"why": "retry"}]

    class Computed(ReadableSpan):
        @property
        def events(self) -> Any:  # a subclass's own property is honoured, even over empty storage
            return (Event("computed"),)

    assert [event.name for event in ended_events(Computed(name="c"))] == ["computed"]
