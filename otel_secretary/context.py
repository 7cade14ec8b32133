"""Tenant and user context that travels with the trace, without disclosing who the user is.

``enduser.id`` is a keyed pseudonym (HMAC-BLAKE2b with ``OTEL_SECRETARY_PII_KEY``): stable, so one
user's requests correlate across services and days, but not reversible without the key. Both
values ride in W3C baggage, so Celery tasks enqueued by the request inherit them, and the
:class:`~otel_secretary.sdk.trace.context_processor.RequestContextSpanProcessor` copies them onto
every span.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from opentelemetry import baggage, context, trace

from otel_secretary.sdk.trace.context_processor import TENANT_KEY, USER_KEY
from otel_secretary.settings import load_settings


def pseudonymize(user_id: str, key: str | None = None) -> str:
    """A 16-hex-digit pseudonym of ``user_id``; the same input and key always give the same output.

    The masker's scheme (keyed HMAC-SHA256 over ``enduser:<id>``), with OTEL_SECRETARY_PII_KEY or, when
    it is not set, the deployment's random key in the data folder: never a key written in the source.
    """
    from otel_secretary.pii import pseudonym_digest, pseudonym_key

    secret = key.encode() if key else pseudonym_key(load_settings())
    return pseudonym_digest(secret, "enduser", user_id, 16)


@contextmanager
def request_context(tenant_id: str | None = None, user_id: str | None = None) -> Iterator[None]:
    """Attach tenant and pseudonymous user to the current context (and so to every span below it)."""
    ctx = context.get_current()
    # The server span usually started before the app's hook ran, so it gets the values directly.
    current = trace.get_current_span()
    if tenant_id:
        ctx = baggage.set_baggage(TENANT_KEY, str(tenant_id), ctx)
        current.set_attribute(TENANT_KEY, str(tenant_id))
    if user_id:
        pseudonym = pseudonymize(str(user_id))
        ctx = baggage.set_baggage(USER_KEY, pseudonym, ctx)
        current.set_attribute(USER_KEY, pseudonym)
    token = context.attach(ctx)
    try:
        yield
    finally:
        context.detach(token)
