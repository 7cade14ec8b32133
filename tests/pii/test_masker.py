"""Detector and policy behaviour, table-driven: what is masked, what stays, and how it is replaced."""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider

from otel_secretary.pii import FAILED, REDACTED, Masker, Redactions, build_masker, is_sensitive_key
from otel_secretary.settings import load_settings


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mail jane.doe@example.com now", "mail <email> now"),
        ("4242 4242 4242 4242 exp 12/34", "<card> exp 12/34"),
        ("order 1234 4242 4242 4242 4242", "order 1234 <card>"),
        ("4242424242424241 fails Luhn", "4242424242424241 fails Luhn"),
        (
            "1234567890123452 passes Luhn but no issuer starts with 1",
            "1234567890123452 passes Luhn but no issuer starts with 1",
        ),
        ("call +1 555 010 0199.", "call <phone>."),
        ("call (555) 010-0199", "call <phone>"),
        ("ring 020 7946 0958", "ring <phone>"),
        ("on 01.05.2024 10:30", "on 01.05.2024 10:30"),
        ("IBAN GB29 NWBK 6016 1331 9268 19 ok", "IBAN <iban> ok"),
        (
            "IBAN GB29 NWBK 6016 1331 9268 18 has a bad checksum",
            "IBAN GB29 NWBK 6016 1331 9268 18 has a bad checksum",
        ),
        ("ssn 123-45-6789", "ssn <ssn>"),
        ("ssn 666-45-6789 is never issued", "ssn 666-45-6789 is never issued"),
        ("from 192.0.2.33:443", "from <ip>:443"),
        ("bind 127.0.0.1 and 0.0.0.0", "bind 127.0.0.1 and 0.0.0.0"),
        ("v6 [2001:db8::1]:8080", "v6 [<ip>]:8080"),
        ("1.2.3.4.5 is not an address", "1.2.3.4.5 is not an address"),
        ("net 198.51.100.7/24 via http://203.0.113.9/x", "net <ip>/24 via http://<ip>/x"),
        ("Chrome/124.0.0.0 Safari/537.36", "Chrome/124.0.0.0 Safari/537.36"),
        ("Authorization: Bearer abc.DEF-123_456", "Authorization: Bearer <secret>"),
        ("Basic authentication is disabled", "Basic authentication is disabled"),
        ("https://bob:pa55word@db.example.com/x", "https://bob:<secret>@db.example.com/x"),
        ("/reset?token=abc123&next=/home", "/reset?token=<secret>&next=/home"),
        ("/search?q=cats&page=2", "/search?q=cats&page=2"),
        ('{"api_key": "k-123", "model": "gpt-4o-mini"}', '{"api_key": "<secret>", "model": "gpt-4o-mini"}'),
        ("key AKIAIOSFODNN7EXAMPLE", "key <secret>"),
        ("stripe sk_live_51FAKEfakeFAKE0123456789", "stripe <secret>"),
        ("charge ch_3MmlLrLkdIwHu7ix0snN0B15", "charge ch_3MmlLrLkdIwHu7ix0snN0B15"),
        ("logo@2x.png", "logo@2x.png"),
        ("GET /u?email=jane.doe%40example.com&x=1", "GET /u?email=<email>&x=1"),
        ("password: hunter2 ok", "password: <secret> ok"),
        ("Password: reset link sent", "Password: reset link sent"),
        ("From: Jane Doe <jane@example.com>", "From: <name> <<email>>"),
        ("To: A Lee <a@example.com>, Bo Kim <b@example.com>", "To: <name> <<email>>, <name> <<email>>"),
        ("From: the scheduler", "From: the scheduler"),
    ],
)
def test_mask_text(masker: Masker, text: str, expected: str) -> None:
    assert masker.mask_text(text) == expected


@pytest.mark.parametrize(
    ("key", "sensitive"),
    [
        ("password", True), ("http.request.header.authorization", True),
        ("http.request.header.x-api-key", True),
        ("set-cookie", True), ("client_secret", True), ("refresh_token", True), ("csrftoken", True),
        ("sessionId", True), ("user_session", True), ("db.password", True),
        ("secretary", False), ("tokenizer", False), ("password_reset_sent", False), ("author", False),
        ("gen_ai.usage.input_tokens", False), ("auth.method", False), ("cookie.consent", False),
        ("token.type", False), ("idempotency_key", False),
        ("displayName", True), ("customer.full_name", True), ("user.name", True),
        ("service.name", False), ("gen_ai.tool.name", False), ("k8s.pod.name", False),
    ],
)  # fmt: skip
def test_key_rules(key: str, sensitive: bool) -> None:
    assert is_sensitive_key(key) is sensitive


def test_attributes_key_rules_are_type_aware(masker: Masker) -> None:
    masked = masker.mask_attributes(
        {
            "http.request.header.authorization": ("Bearer xyz",),
            "password": "hunter2",
            "password.length": 7,
            "api_key_present": True,
            "user.email": "jane@example.com",
            "note": "the secretary booked it",
        }
    )
    assert masked == {
        "http.request.header.authorization": (REDACTED,),
        "password": REDACTED,
        "password.length": 7,
        "api_key_present": True,
        "user.email": "<email>",
        "note": "the secretary booked it",
    }


def test_name_keys_use_the_name_placeholder_and_pseudonyms() -> None:
    plain = Masker(meter_provider=MeterProvider())
    assert plain.mask_attributes({"user.name": "jdoe", "service.name": "api"}) == {
        "user.name": "<name>",
        "service.name": "api",
    }
    pseudonyms = Masker(mode="pseudonym", key="k", meter_provider=MeterProvider())
    first = pseudonyms.mask_value("customer.full_name", "Jane Doe")
    assert first.startswith("<name:") and first == pseudonyms.mask_value(
        "attendee.display_name", " Jane Doe "
    )


def test_integer_card_numbers_are_masked_other_numbers_kept(masker: Masker) -> None:
    redactions = Redactions()
    assert masker.mask_value("payment.card", 4242424242424242, redactions) == "<card>"
    assert masker.mask_value("order.id", 4242424242424241, redactions) == 4242424242424241
    assert masker.mask_value("epoch_ms", 1732712345678, redactions) == 1732712345678
    assert redactions.kinds == {"card": 1}


def test_bytes_sequences_mappings_and_objects(masker: Masker) -> None:
    assert masker.mask_value("body", b"to jane@example.com") == b"to <email>"
    assert masker.mask_value("body", b"\xff\xfe plain") == b"\xff\xfe plain"
    assert masker.mask_value("recipients", ["a@example.com", "ok"]) == ("<email>", "ok")
    assert masker.mask_value(None, {"user": {"email": "a@example.com", "token": "t0k"}}) == {
        "user": {"email": "<email>", "token": REDACTED}
    }

    class Opaque:
        def __str__(self) -> str:
            return "owner a@example.com"

    assert masker.mask_value("obj", Opaque()) == "owner <email>"


def test_pseudonym_mode_correlates_without_disclosing() -> None:
    masker = Masker(mode="pseudonym", key="test-only-key", meter_provider=MeterProvider())
    first = masker.mask_text("from Jane@Example.com")
    again = masker.mask_text("reply to jane@example.com")
    other = masker.mask_text("from bob@example.com")
    token = first.removeprefix("from ")
    assert token.startswith("<email:") and len(token) == len("<email:12345678>")
    assert again == f"reply to {token}"
    assert other != first
    assert "jane" not in first.lower()
    rekeyed = Masker(mode="pseudonym", key="another-key", meter_provider=MeterProvider())
    assert rekeyed.mask_text("from jane@example.com") != first


def test_keep_last4_and_placeholders_never_echo_secrets() -> None:
    masker = Masker(card_keep_last4=True, meter_provider=MeterProvider())
    assert masker.mask_text("card 4000 0566 5566 5556") == "card <card:5556>"
    secret = "sk_live_51FAKEfakeFAKE0123456789"
    assert "FAKE" not in Masker(meter_provider=MeterProvider()).mask_text(secret)


def test_ip_masking_can_be_switched_off() -> None:
    masker = Masker(mask_ip=False, meter_provider=MeterProvider())
    assert masker.mask_text("client 192.0.2.33 mail a@example.com") == "client 192.0.2.33 mail <email>"


def test_build_masker_follows_settings(tmp_path: Any) -> None:
    settings = load_settings(
        {
            "OTEL_SECRETARY_PII_MODE": "pseudonym",
            "OTEL_SECRETARY_PII_KEY": "k",
            "OTEL_SECRETARY_PII_MASK_IP": "false",
        }
    )
    masker = build_masker(settings, MeterProvider())
    assert masker.mode == "pseudonym"
    assert masker.mask_text("192.0.2.33").startswith("192.0.2.33")
    assert masker.mask_text("a@example.com").startswith("<email:")


def test_masking_is_idempotent_on_mixed_text(masker: Masker) -> None:
    text = "Bearer abc123DEF456 to a@example.com card 4242424242424242 https://u:p4ss@h.example.com?token=x1"
    once = masker.mask_text(text)
    assert masker.mask_text(once) == once


def test_redactions_count_kinds_not_values(masker: Masker) -> None:
    redactions = Redactions()
    masker.mask_text("a@example.com b@example.com +1 555 010 0199", redactions)
    assert redactions.count == 3
    assert redactions.kinds == {"email": 2, "phone": 1}


def test_value_that_raises_is_dropped_counted_and_never_logged(
    masker: Masker, caplog: pytest.LogCaptureFixture
) -> None:
    class Exploding:
        def __str__(self) -> str:
            raise RuntimeError("value was jane@example.com")

    redactions = Redactions()
    assert masker.mask_value("x", Exploding(), redactions) == FAILED
    assert masker.mask_value("y", Exploding(), redactions) == FAILED
    assert redactions.failures == 2
    messages = [record.getMessage() for record in caplog.records]
    assert len(messages) == 1 and "RuntimeError" in messages[0]
    assert "jane@example.com" not in caplog.text
