"""``otel_secretary.notify.verify``: what a webhook consumer runs on every delivery.

Signed by the real :class:`WebhookChannel` and received over a real socket, so the test checks the
receiver side against exactly what the sender puts on the wire."""

from __future__ import annotations

import hashlib
import hmac
import time

import httpx
import pytest

from otel_secretary.notify import InvalidSignature, verify
from otel_secretary.notify.channels import SIGNATURE_HEADER, TIMESTAMP_HEADER, WebhookChannel
from otel_secretary.testing.receivers import HttpReceiver

from .conftest import note

SECRET = "test-secret-not-real"


def delivered() -> tuple[bytes, dict[str, str]]:
    """One delivery from the real channel, as the receiver saw it (raw bytes, headers as sent)."""
    with HttpReceiver(status=200) as receiver:
        WebhookChannel("hook", receiver.url, SECRET).send(note())
        (request,) = receiver.requests
    return request["body"], request["headers"]


def test_a_delivery_from_the_channel_verifies() -> None:
    body, headers = delivered()
    verify(body, headers, SECRET)
    verify(body, headers, SECRET.encode())
    # Header names are case-insensitive; a framework that lower-cases them must still verify.
    verify(body, {k.lower(): v for k, v in headers.items()}, SECRET)


def test_the_signed_string_is_timestamp_dot_raw_body() -> None:
    """What docs/webhooks.md tells receivers in other languages to compute."""
    body, headers = delivered()
    timestamp = headers[TIMESTAMP_HEADER]
    expected = hmac.new(SECRET.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    assert headers[SIGNATURE_HEADER] == f"sha256={expected}"


def test_tampered_body_is_refused() -> None:
    body, headers = delivered()
    tampered = body.replace(b'"status": "firing"', b'"status": "resolved"')
    assert tampered != body
    with pytest.raises(InvalidSignature, match="does not match"):
        verify(tampered, headers, SECRET)


def test_wrong_secret_is_refused() -> None:
    body, headers = delivered()
    with pytest.raises(InvalidSignature, match="does not match"):
        verify(body, headers, "another-secret")


def test_stale_and_future_timestamps_are_refused() -> None:
    body, headers = delivered()
    sent = int(headers[TIMESTAMP_HEADER])
    verify(body, headers, SECRET, now=sent + 299)
    with pytest.raises(InvalidSignature, match="beyond the 300s tolerance"):
        verify(body, headers, SECRET, now=sent + 301)
    with pytest.raises(InvalidSignature, match="beyond the 60s tolerance"):
        verify(body, headers, SECRET, tolerance=60, now=sent + 61)
    with pytest.raises(InvalidSignature, match="tolerance"):
        verify(body, headers, SECRET, now=sent - 301)  # a clock far ahead is no more trustworthy


def test_a_replayed_timestamp_cannot_be_refreshed() -> None:
    """Changing the timestamp header to now breaks the signature: the timestamp is signed too."""
    body, headers = delivered()
    fresh = dict(headers, **{TIMESTAMP_HEADER: str(int(time.time()) + 1)})
    with pytest.raises(InvalidSignature, match="does not match"):
        verify(body, fresh, SECRET)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({SIGNATURE_HEADER: None}, "missing header"),
        ({TIMESTAMP_HEADER: None}, "missing header"),
        ({TIMESTAMP_HEADER: "yesterday"}, "not a unix timestamp"),
        ({SIGNATURE_HEADER: "md5=abc"}, "does not start with"),
    ],
)
def test_malformed_headers_are_refused(change: dict[str, str | None], reason: str) -> None:
    body, headers = delivered()
    for key, value in change.items():
        headers.pop(key)
        if value is not None:
            headers[key] = value
    with pytest.raises(InvalidSignature, match=reason):
        verify(body, headers, SECRET)


def test_empty_secret_never_accepts() -> None:
    body, headers = delivered()
    with pytest.raises(InvalidSignature, match="no secret"):
        verify(body, headers, "")


def test_example_receiver_keeps_valid_deliveries_and_answers_401_to_forgeries() -> None:
    with HttpReceiver(status=200, secrets={"/hook": SECRET}) as receiver:
        WebhookChannel("hook", receiver.url, SECRET).send(note())
        forged = httpx.post(
            receiver.url,
            content=b'{"alerts": []}',
            headers={TIMESTAMP_HEADER: str(int(time.time())), SIGNATURE_HEADER: "sha256=" + "0" * 64},
        )
        with pytest.raises(Exception, match="401"):
            WebhookChannel("hook", receiver.url, "not-the-shared-secret").send(note())
        assert forged.status_code == 401
        assert len(receiver.requests) == 1 and receiver.requests[0]["path"] == "/hook"
        assert [r["reason"] for r in receiver.rejected] == [
            "signature does not match the body and timestamp"
        ] * 2
