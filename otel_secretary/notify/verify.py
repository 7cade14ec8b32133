"""Receiver side of the signed webhook: check a delivery came from us, unchanged and recently.

:class:`~otel_secretary.notify.channels.WebhookChannel` sends ``X-Otel-Secretary-Timestamp: <unix
seconds>`` and ``X-Otel-Secretary-Signature: sha256=<hex>``, the HMAC-SHA256 under the shared secret of
the bytes ``<timestamp>.<raw body>``. Signing the timestamp too lets a receiver refuse an old, captured
delivery (replay); comparing in constant time keeps the digest from leaking byte by byte through timing.
docs/webhooks.md gives the same recipe for receivers in other languages.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Mapping

from otel_secretary.notify.channels import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign

_PREFIX = "sha256="


class InvalidSignature(ValueError):
    """The delivery must be refused; the message says why (never echoes the secret or the digest)."""


def _header(headers: Mapping[str, str], name: str) -> str:
    # HTTP header names are case-insensitive, and servers and frameworks spell them differently.
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value.strip()
    raise InvalidSignature(f"missing header {name}")


def verify(
    body: bytes,
    headers: Mapping[str, str],
    secret: str | bytes,
    tolerance: float = 300,
    *,
    now: float | None = None,
) -> None:
    """Raise :class:`InvalidSignature` unless ``body`` carries our valid, fresh signature.

    ``body`` must be the raw request bytes as received (re-serialised JSON would not match);
    ``tolerance`` is the largest accepted age, in seconds, in either direction (clock skew).
    """
    key = secret.encode() if isinstance(secret, str) else secret
    if not key:
        raise InvalidSignature("no secret configured: refusing to accept unsigned deliveries")
    timestamp = _header(headers, TIMESTAMP_HEADER)
    signature = _header(headers, SIGNATURE_HEADER)
    if not timestamp.isdigit():
        raise InvalidSignature(f"{TIMESTAMP_HEADER} is not a unix timestamp")
    if not signature.startswith(_PREFIX):
        raise InvalidSignature(f"{SIGNATURE_HEADER} does not start with {_PREFIX!r}")
    # Signature first: an attacker must not learn from the answer whether a forged timestamp was fresh.
    expected = sign(key, timestamp, body)
    if not hmac.compare_digest(signature[len(_PREFIX) :].encode(), expected.encode()):
        raise InvalidSignature("signature does not match the body and timestamp")
    age = (time.time() if now is None else now) - int(timestamp)
    if abs(age) > tolerance:
        raise InvalidSignature(f"timestamp is {age:.0f}s old, beyond the {tolerance:.0f}s tolerance")
