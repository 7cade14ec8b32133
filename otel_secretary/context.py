"""Tenant and user context that travels with the trace, without disclosing who the user is.

``enduser.id`` is a keyed pseudonym (HMAC-BLAKE2b with ``OTEL_SECRETARY_PII_KEY``): stable, so one
user's requests correlate across services and days, but not reversible without the key. Both
values ride in W3C baggage, so Celery tasks enqueued by the request inherit them, and the
:class:`~otel_secretary.sdk.trace.context_processor.RequestContextSpanProcessor` copies them onto
every span.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager

from opentelemetry import baggage, context, trace

from otel_secretary.sdk.trace.context_processor import TENANT_KEY, USER_KEY
from otel_secretary.settings import load_settings

# Used only when no key is configured; documented as weaker (a dictionary attack on known ids works).
_FALLBACK_KEY = b"otel-secretary/pseudonym/v1"


def pseudonymize(user_id: str, key: str | None = None) -> str:
    """A 16-hex-digit pseudonym of ``user_id``; the same input and key always give the same output."""
    secret = (key if key is not None else load_settings().pii_key).encode() or _FALLBACK_KEY
    return hashlib.blake2b(user_id.encode(), key=secret[:64], digest_size=8).hexdigest()


# gen_ai.conversation.id rides in baggage too, so a Celery task enqueued in the request keeps it.
CONVERSATION_KEY = "gen_ai.conversation.id"


@contextmanager
def request_context(
    tenant_id: str | None = None, user_id: str | None = None, conversation_id: str | None = None
) -> Iterator[None]:
    """Attach tenant and pseudonymous user to the current context (and so to every span below it).

    ``conversation_id`` (an opaque id, never message text) becomes ``gen_ai.conversation.id`` on the
    GenAI spans inside: ours and the auto-instrumented OpenAI ones (util-genai's context key).
    """
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
    if conversation_id:
        from opentelemetry.util.genai._conversation_context import with_conversation_id

        ctx = baggage.set_baggage(CONVERSATION_KEY, str(conversation_id), ctx)
        ctx = with_conversation_id(str(conversation_id), ctx)
    token = context.attach(ctx)
    try:
        yield
    finally:
        context.detach(token)
