"""Percent- and form-encoded PII in query strings, URL paths and form bodies (issue 10, route 1).

Only the PII substring is replaced; the rest of the URL stays readable. The same text reaches ``url.query``,
werkzeug's access-log line and Sentry's ``request.query_string``; each is pushed through here.
"""

from __future__ import annotations

import logging

import pytest
from opentelemetry.sdk.metrics import MeterProvider

from otel_secretary.pii import Masker, MaskingLoggingFilter, Redactions, sentry_scrubber

MASKER = Masker(meter_provider=MeterProvider())


@pytest.mark.parametrize(
    ("text", "expected", "kind"),
    [
        ("tel=%2B1%20415%20555%200199&page=2", "tel=<phone>&page=2", "phone"),
        ("tel=%2B44%2020%207946%200958", "tel=<phone>", "phone"),
        ("tel=%2b33%206%2012%2034%2056%2078", "tel=<phone>", "phone"),
        ("phone=%2B44+20+7946+0958&x=1", "phone=<phone>&x=1", "phone"),
        ("q=%28555%29%20010-0199", "q=<phone>", "phone"),
        ("/api/v1/cards/4539%201488%200343%206467/refund", "/api/v1/cards/<card>/refund", "card"),
        ("card=4539+1488+0343+6467&cvc_hint=no", "card=<card>&cvc_hint=no", "card"),
        ("card=4242-4242-4242-4242&amount=10", "card=<card>&amount=10", "card"),
        ("iban=GB29+NWBK+6016+1331+9268+19&ok=1", "iban=<iban>&ok=1", "iban"),
        ("iban=DE89%203704%200044%200532%200130%2000", "iban=<iban>", "iban"),
        ("to=jane.doe%40example.com&cc=1", "to=<email>&cc=1", "email"),
        ("to=jane.doe%2540example.com", "to=<email>", "email"),
        ("redirect=%2Fhome%3Femail%3Djane%2540example.com", "redirect=%2Fhome%3Femail%3D<email>", "email"),
    ],
)
def test_encoded_pii_is_masked_in_place(text: str, expected: str, kind: str) -> None:
    redactions = Redactions()
    assert MASKER.mask_text(text, redactions) == expected
    assert kind in redactions.kinds
    assert MASKER.mask_text(expected) == expected


@pytest.mark.parametrize(
    "text",
    [
        "q=caf%C3%A9+au+lait&page=2",
        "/static/app.js?v=1.45.0&t=20240501",
        "sort=created_at%20desc&limit=50",
        "a+b=c",
        "q=100%25+cotton",
        "/files/report%202024-05-01.pdf",
    ],
)
def test_encoded_text_without_pii_is_untouched(text: str) -> None:
    assert MASKER.mask_text(text) == text


def test_werkzeug_access_log_line_is_masked_by_the_logging_filter() -> None:
    record = logging.LogRecord(
        "werkzeug", logging.INFO, __file__, 1,
        '127.0.0.1 - - [03/Dec/2026 22:00:00] "%s" %s -',
        ("GET /book?tel=%2B1%20415%20555%200199&card=4539+1488+0343+6467 HTTP/1.1", "200"), None,
    )  # fmt: skip
    MaskingLoggingFilter(MASKER).filter(record)
    message = record.getMessage()
    assert "GET /book?tel=<phone>&card=<card> HTTP/1.1" in message
    assert "0199" not in message and "6467" not in message


def test_sentry_query_string_is_masked() -> None:
    query = "tel=%2B1%20415%20555%200199"
    event = {"request": {"url": "https://api.example.com/book", "query_string": query}}
    scrubbed = sentry_scrubber(MASKER)(event, None)
    assert scrubbed["request"]["query_string"] == "tel=<phone>"
