"""Tenant and user context that travels with the trace, without disclosing who the user is.

``enduser.id`` is a keyed pseudonym (HMAC-SHA256 with ``OTEL_SECRETARY_PII_KEY``): stable, so one
user's requests correlate across services and days, but not reversible without the key. Both
values ride in W3C baggage, so Celery tasks enqueued by the request inherit them, and the
:class:`~otel_secretary.sdk.trace.context_processor.RequestContextSpanProcessor` copies them onto
every span.

**Baggage policy.** Inbound baggage is untrusted input (any client can send ``baggage:
user.email=…``), and outbound baggage goes wherever the app calls. :class:`BaggagePolicyPropagator`
wraps the global propagator:

- *in* (extract): only ``app.tenant.id`` and ``gen_ai.conversation.id`` (identifier-shaped),
  ``enduser.id`` and our signature of it are accepted; every other key is dropped. An ``enduser.id``
  without a valid signature (it did not come from :func:`request_context` in one of our services) is
  replaced by its pseudonym, then signed;
- *out* (inject): baggage goes only to our own queue (a message published under a PRODUCER span:
  Celery, Kafka …), and only the accepted keys. HTTP, gRPC and anything else is treated as a third
  party and gets no baggage at all (``traceparent`` still goes, so traces still join).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

from opentelemetry import baggage, context, propagate, trace
from opentelemetry.context import Context
from opentelemetry.propagators.textmap import (
    CarrierT,
    Getter,
    Setter,
    TextMapPropagator,
    default_getter,
    default_setter,
)
from opentelemetry.trace import SpanKind

from otel_secretary._internal.self_monitoring import report_internal_error
from otel_secretary.sdk.trace.context_processor import (
    CONVERSATION_BAGGAGE_KEY,
    TENANT_KEY,
    USER_KEY,
    USER_SIGNATURE_KEY,
    valid_opaque_id,
    valid_tenant,
)
from otel_secretary.settings import load_settings

_SIGNATURE_DOMAIN: Final = "otel-secretary/baggage-signature/v1:"
_MAX_RAW_ID: Final = 256
ACCEPTED_BAGGAGE_KEYS: Final = frozenset({TENANT_KEY, USER_KEY, USER_SIGNATURE_KEY, CONVERSATION_BAGGAGE_KEY})


def pseudonymize(user_id: str, key: str | None = None) -> str:
    """A 16-hex-digit pseudonym of ``user_id``; the same input and key always give the same output.

    The masker's scheme (keyed HMAC-SHA256 over ``enduser:<id>``), with OTEL_SECRETARY_PII_KEY or, when
    it is not set, the deployment's random key in the data folder: never a key written in the source.
    """
    from otel_secretary.pii import pseudonym_digest, pseudonym_key

    secret = key.encode() if key else pseudonym_key(load_settings())
    return pseudonym_digest(secret, "enduser", user_id, 16)


@functools.lru_cache(maxsize=2048)
def sign_user_id(pseudonym: str) -> str:
    """Our signature over a pseudonym, with the same key (services sharing the key can verify it)."""
    return pseudonymize(_SIGNATURE_DOMAIN + pseudonym)


@functools.lru_cache(maxsize=2048)
def _pseudonym_of_untrusted(raw: str) -> str:
    return pseudonymize(raw[:_MAX_RAW_ID])


def clear_pseudonym_caches() -> None:
    """Forget cached pseudonyms and signatures (tests that change the key within one process)."""
    sign_user_id.cache_clear()
    _pseudonym_of_untrusted.cache_clear()


def trusted_user_id(value: object, signature: object = None) -> str | None:
    """The user id to record: ``value`` itself when we signed it, else its pseudonym (never raw)."""
    if not isinstance(value, str) or not value:
        return None
    if isinstance(signature, str) and signature and sign_user_id(value) == signature:
        return value
    return _pseudonym_of_untrusted(value)


def baggage_user_id(ctx: Context | None = None) -> str | None:
    """The trusted pseudonymous user id of the current (or given) context's baggage."""
    return trusted_user_id(baggage.get_baggage(USER_KEY, ctx), baggage.get_baggage(USER_SIGNATURE_KEY, ctx))


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
        ctx = baggage.set_baggage(USER_SIGNATURE_KEY, sign_user_id(pseudonym), ctx)
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


def _accepted(entries: dict[str, object]) -> dict[str, str]:
    """The inbound entries we keep: tenant if identifier-shaped, user id trusted or pseudonymised."""
    kept: dict[str, str] = {}
    tenant = valid_tenant(entries.get(TENANT_KEY))
    if tenant:
        kept[TENANT_KEY] = tenant
    conversation = valid_opaque_id(entries.get(CONVERSATION_BAGGAGE_KEY))
    if conversation:
        kept[CONVERSATION_BAGGAGE_KEY] = conversation
    user = trusted_user_id(entries.get(USER_KEY), entries.get(USER_SIGNATURE_KEY))
    if user:
        kept[USER_KEY] = user
        kept[USER_SIGNATURE_KEY] = sign_user_id(user)
    return kept


def _with_baggage(ctx: Context, entries: dict[str, str]) -> Context:
    ctx = baggage.clear(ctx)
    for key, value in entries.items():
        ctx = baggage.set_baggage(key, value, ctx)
    return ctx


def _first_party_destination(ctx: Context | None) -> bool:
    """Our own queue: the injection happens under a PRODUCER span (Celery's ``apply_async``)."""
    span = trace.get_current_span(ctx)
    return getattr(span, "kind", None) is SpanKind.PRODUCER


class BaggagePolicyPropagator(TextMapPropagator):
    """Wraps the app's propagator: filters inbound baggage, keeps baggage from third parties."""

    def __init__(self, inner: TextMapPropagator) -> None:
        self.inner = inner

    def extract(
        self, carrier: CarrierT, context: Context | None = None, getter: Getter[CarrierT] = default_getter
    ) -> Context:
        extracted = self.inner.extract(carrier, context, getter)
        try:
            before = baggage.get_all(context)
            after = baggage.get_all(extracted)
            if after == before:
                return extracted
            inbound = {k: v for k, v in after.items() if before.get(k) != v}
            kept = {k: str(v) for k, v in before.items()}
            kept.update(_accepted(inbound))
            return _with_baggage(extracted, kept)
        except Exception as exc:  # fail closed: no inbound baggage rather than unfiltered baggage
            report_internal_error("baggage.extract", exc)
            return baggage.clear(extracted)

    def inject(
        self, carrier: CarrierT, context: Context | None = None, setter: Setter[CarrierT] = default_setter
    ) -> None:
        try:
            ctx = context if context is not None else context_api_current()
            entries = baggage.get_all(ctx)
            if entries:
                allowed: dict[str, str] = {}
                if _first_party_destination(ctx):
                    allowed = {k: str(v) for k, v in entries.items() if k in ACCEPTED_BAGGAGE_KEYS}
                ctx = _with_baggage(ctx, allowed)
        except Exception as exc:
            report_internal_error("baggage.inject", exc)
            ctx = baggage.clear(context if context is not None else context_api_current())
        self.inner.inject(carrier, ctx, setter)

    @property
    def fields(self) -> set[str]:
        return set(self.inner.fields)


def context_api_current() -> Context:
    return context.get_current()


_policy_installed = False


def install_baggage_policy() -> None:
    """Wrap the global propagator once (``OTEL_PROPAGATORS`` decides what it wraps)."""
    global _policy_installed
    _policy_installed = True
    current = propagate.get_global_textmap()
    if not isinstance(current, BaggagePolicyPropagator):
        propagate.set_global_textmap(BaggagePolicyPropagator(current))


def reapply_baggage_policy() -> bool:
    """Wrap again a propagator that replaced ours (Sentry's ``OTLPIntegration``); True if it did."""
    if not _policy_installed or isinstance(propagate.get_global_textmap(), BaggagePolicyPropagator):
        return False
    install_baggage_policy()
    return True
