"""Formats the first detectors missed (issue 10, item 6), and identifiers that are not personal (item 9)."""

from __future__ import annotations

import pytest
from opentelemetry.sdk.metrics import MeterProvider

from otel_secretary.pii import REDACTED, Masker, Redactions

MASKER = Masker(meter_provider=MeterProvider())


@pytest.mark.parametrize(
    ("text", "expected", "kind"),
    [
        # phones: bracketed area codes, extensions, the 00 prefix, national formats after a phone word
        ("call (0191) 496 0372 now", "call <phone> now", "phone"),
        ("call (11) 98765-4321", "call <phone>", "phone"),
        ("call +1 415-555-0199 x798", "call <phone>", "phone"),
        ("call 415-555-0199 ext. 798 today", "call <phone> today", "phone"),
        ("call +1-555-010-0199x798", "call <phone>", "phone"),
        ("call 001 415 555 0199", "call <phone>", "phone"),
        ("call 0044 20 7946 0958", "call <phone>", "phone"),
        ("móvil 612 345 678", "móvil <phone>", "phone"),
        ("mobile: 98765 43210", "mobile: <phone>", "phone"),
        ("Tel. 030 1234567", "Tel. <phone>", "phone"),
        # IPv6 whose first group ends in a letter or is all letters
        ("from 2a0d:5600:24:b3::1 via", "from <ip> via", "ip"),
        ("from abcd:5600::1", "from <ip>", "ip"),
        ("peer 2001:db8:0:0:0:0:0:1 left", "peer <ip> left", "ip"),
        # cards outside 13-19 digits / 2-6 issuers
        ("maestro 501800000009", "maestro <card>", "card"),
        ("jcb 180000000000002", "jcb <card>", "card"),
        ("maestro 6759 6498 2643 8453", "maestro <card>", "card"),
        # SSNs without dashes next to their name
        ("SSN 123456789", "SSN <ssn>", "ssn"),
        ("ssn: 123 45 6789", "ssn: <ssn>", "ssn"),
        ("tax id 123456789", "tax id <ssn>", "ssn"),
        # national identifiers: distinctive shapes by value, bare numbers after their name; checksums decide
        ("CPF 187.244.670-14 ok", "CPF <national_id> ok", "national_id"),
        ("cpf 18724467014", "cpf <national_id>", "national_id"),
        ("NIE X9549656X", "NIE <national_id>", "national_id"),
        ("DNI 18034063Q", "DNI <national_id>", "national_id"),
        ("NIR 1 72 02 32 013 121 26", "NIR <national_id>", "national_id"),
        ("BSN 214035797", "BSN <national_id>", "national_id"),
        ("Aadhaar 2345 6789 0124", "Aadhaar <national_id>", "national_id"),
        ("NI number AB 12 34 56 C", "NI number <national_id>", "national_id"),
        ("CF BCCFRC15M25E852P", "CF <national_id>", "national_id"),
        ("Steuer-ID: 86095742719", "Steuer-ID: <national_id>", "national_id"),
        # AWS secret key next to its key id
        ("AKIAIOSFODNN7EXAMPLE wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "<secret>", "secret"),
        # personal fields named by their key inside strings
        (
            '{"date_of_birth": "1985-03-14", "plan": "pro"}',
            '{"date_of_birth": "<dob>", "plan": "pro"}',
            "dob",
        ),
        ("dob=14/03/1985&plan=pro", "dob=<dob>&plan=pro", "dob"),
        ('{"street": "221B Baker Street"}', '{"street": "<address>"}', "address"),
        ('{"organizer": "Jane Doe", "id": "x"}', '{"organizer": "<name>", "id": "x"}', "name"),
        ('{"name": "Priya Natarajan"}', '{"name": "<name>"}', "name"),
    ],
)
def test_format_is_masked(text: str, expected: str, kind: str) -> None:
    redactions = Redactions()
    assert MASKER.mask_text(text, redactions) == expected
    assert kind in redactions.kinds


@pytest.mark.parametrize(
    "text",
    [
        "BSN 214035798 fails the 11-check",
        "CPF 187.244.670-15 has a bad check digit",
        "order number 123456789 shipped",
        "uptime 123456789 s",
        "id 1234 5678 9012 3456 not a card",
        "order 501800000001",
        '{"name": "summarize_email", "arguments": "{}"}',
        '{"customer": "cus_NffrFeUfNV2Hib"}',
        "Mozilla/5.0 (X11; U; Linux i686; en-US; rv:1.9.1.20) Gecko/20090824 Firefox/3.5.3",
        "twilio.account_sid=AC8d5e3b0f1a2c4e6f8a0b2c4d6e8f0a1b2",
        "SID AC8d5e3b0f1a2c4e6f8a0b2c4d6e8f0a1b2 sent SM0123456789abcdef0123456789abcdef",
        "NIE X9549656A has a bad letter",
        "call duration 00:03:12",
        "starts 10:30:00 on 2024-06-04",
    ],
)
def test_look_alike_is_kept(text: str) -> None:
    assert MASKER.mask_text(text) == text


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("customer.tax_id", "123-45-6789", "<national_id>"),
        ("user.cpf", "187.244.670-14", "<national_id>"),
        ("codice_fiscale", "BCCFRC15M25E852P", "<national_id>"),
        ("user.ssn", "123456789", "<ssn>"),
        ("date_of_birth", "14 March 1985", "<dob>"),
        ("user.dob", "1985-03-14", "<dob>"),
        ("billing.address", "221B Baker Street, London NW1 6XE", "<address>"),
        ("billing_details.address.line1", "221B Baker Street", "<address>"),
        ("street", "Hauptstraße 5", "<address>"),
        ("calendar.organizer", "Jane Doe", "<name>"),
        ("calendar.organizer", "jane.doe@example.com", "<email>"),
        ("stripe.customer", "cus_NffrFeUfNV2Hib", "cus_NffrFeUfNV2Hib"),
        ("twilio.account_sid", "AC8d5e3b0f1a2c4e6f8a0b2c4d6e8f0a1b2", "AC8d5e3b0f1a2c4e6f8a0b2c4d6e8f0a1b2"),
        ("twilio.auth_token", "8d5e3b0f1a2c4e6f", REDACTED),
        ("server.address", "api.example.com", "api.example.com"),
        ("email.address", "ops@example.com", "<email>"),
        (
            "user_agent.original",
            "Mozilla/5.0 (rv:1.9.1.20) Gecko/20090824",
            "Mozilla/5.0 (rv:1.9.1.20) Gecko/20090824",
        ),
    ],
)
def test_keys_name_the_kind(key: str, value: str, expected: str) -> None:
    assert MASKER.mask_value(key, value) == expected
