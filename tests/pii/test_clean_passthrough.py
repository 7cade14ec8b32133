"""A span whose every part masked to itself before is exported as it is, and only then.

Steady traffic repeats its pairs (route, method, statement, host), so the span exporter hands such a span
on without a copy. These tests pin down when that shortcut may not be taken: a trace that learned a name,
a number in the card range, a resource or scope that masks, events, links and a status text, and a pair
never seen clean.
"""

from __future__ import annotations

from typing import Any

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, SpanContext, Status, StatusCode

from otel_secretary.pii import Masker
from otel_secretary.pii._signals import ResourceMasker, mask_span

RESOURCE = Resource({"service.name": "svc"})
CLEAN = {"http.route": "/notes/<id>", "http.request.method": "GET", "server.port": 80, "ok": True}


def _span(
    attributes: dict[str, Any], trace_id: int = 1, name: str = "GET /notes/<id>", **kw: Any
) -> ReadableSpan:
    return ReadableSpan(
        name=name,
        context=SpanContext(trace_id, 2, is_remote=False),
        attributes=attributes,
        resource=kw.pop("resource", RESOURCE),
        **kw,
    )


def _mask(masker: Masker, span: ReadableSpan, resources: ResourceMasker) -> ReadableSpan:
    context = span.context
    with masker.trace_scope(context.trace_id if context else None):
        return mask_span(masker, span, resources)


def test_a_clean_span_is_copied_once_then_passed_on() -> None:
    masker, resources = Masker(), ResourceMasker(Masker())
    first, second = _span(dict(CLEAN)), _span(dict(CLEAN))
    assert _mask(masker, first, resources) is not first  # never seen: masked (and found clean)
    assert _mask(masker, second, resources) is second
    assert dict(second.attributes or {}) == CLEAN


def test_a_new_value_is_masked() -> None:
    masker, resources = Masker(), ResourceMasker(Masker())
    _mask(masker, _span(dict(CLEAN)), resources)
    leaking = _span({**CLEAN, "http.route": "/notes/jane.doe@example.com"})
    out = _mask(masker, leaking, resources)
    assert out is not leaking
    assert out.attributes is not None and out.attributes["http.route"] == "/notes/<email>"


def test_a_trace_that_learned_a_name_masks_values_known_clean_elsewhere() -> None:
    masker, resources = Masker(), ResourceMasker(Masker())
    line = {"note": "Zorbaxa accepted the slot"}
    assert _mask(masker, _span(dict(line), trace_id=7), resources).attributes == line  # clean: unknown word
    assert _mask(masker, _span(dict(line), trace_id=7), resources).attributes == line
    masker.learn(9, {"user.name": "Zorbaxa Quint"})  # trace 9's attendee
    in_trace_9 = _span(dict(line), trace_id=9)
    out = _mask(masker, in_trace_9, resources)
    assert out is not in_trace_9
    assert "Zorbaxa" not in str(out.attributes)


def test_a_card_number_stored_as_an_integer_is_never_passed_on() -> None:
    masker, resources = Masker(), ResourceMasker(Masker())
    _mask(masker, _span({"payment.card": 42, "count": 3}), resources)  # key, name and pair: all clean
    for _ in range(3):
        span = _span({"payment.card": 4242424242424242, "count": 3})
        out = _mask(masker, span, resources)
        assert out is not span
        assert "4242424242424242" not in str(out.attributes)


def test_a_masking_resource_or_scope_is_never_passed_on() -> None:
    masker, resources = Masker(), ResourceMasker(Masker())
    owner = Resource({"service.owner": "jane.doe@example.com"})
    scope = InstrumentationScope("lib", attributes={"owner": "jane.doe@example.com"})
    for kwargs in ({"resource": owner}, {"instrumentation_scope": scope}):
        for _ in range(2):
            span = _span(dict(CLEAN), **kwargs)
            out = _mask(masker, span, resources)
            assert out is not span
            assert "jane.doe" not in str(out.resource.attributes) + str(out.instrumentation_scope)


def test_events_links_and_status_text_are_always_masked() -> None:
    masker, resources = Masker(), ResourceMasker(Masker())
    _mask(masker, _span(dict(CLEAN)), resources)
    email = "jane.doe@example.com"
    variants: list[dict[str, Any]] = [
        {"events": [Event(f"mail {email}", {})]},
        {"links": [Link(SpanContext(3, 4, is_remote=False), {"why": f"reply {email}"})]},
        {"status": Status(StatusCode.ERROR, f"no inbox {email}")},
    ]
    for kwargs in variants:
        span = _span(dict(CLEAN), **kwargs)
        out = _mask(masker, span, resources)
        assert out is not span
        exported = (
            [e.name for e in out.events]
            + [dict(link.attributes or {}) for link in out.links]
            + [out.status.description]
        )
        assert email not in str(exported)


def test_a_span_with_a_redaction_teaches_nothing_clean() -> None:
    """The name of a span that lost something is not remembered clean with it."""
    masker, resources = Masker(), ResourceMasker(Masker())
    _mask(masker, _span({"user.email": "jane.doe@example.com"}, name="send"), resources)
    again = _span({}, name="send")
    assert _mask(masker, again, resources) is not again  # "send" was never seen in a clean span
