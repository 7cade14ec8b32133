"""Copies the request's tenant and pseudonymous user from W3C baggage onto every span.

Baggage crosses process boundaries (HTTP, Celery messages) with the trace context, so a span in a
Celery worker carries the tenant of the request that enqueued it. Copying happens in ``on_start``,
while the span is still writable.

Baggage is caller-controlled input, so nothing is copied raw: the tenant only when it looks like an
identifier, the user id only when it carries our signature (it came from ``request_context`` in one
of our services); any other user id is pseudonymised first. This holds even when the baggage policy
propagator (:mod:`otel_secretary.context`) was replaced by the app's own.
"""

from __future__ import annotations

import re
from typing import Final

from opentelemetry import baggage
from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor

from otel_secretary._internal.self_monitoring import report_internal_error

TENANT_KEY: Final = "app.tenant.id"
USER_KEY: Final = "enduser.id"
#: Our signature over ``enduser.id``: proves the value is a pseudonym one of our services made.
USER_SIGNATURE_KEY: Final = "otel_secretary.enduser.sig"
#: An opaque conversation id (``request_context(conversation_id=…)``) that Celery tasks inherit.
CONVERSATION_BAGGAGE_KEY: Final = "gen_ai.conversation.id"
_TENANT_SHAPE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:\-]{0,63}")
_OPAQUE_ID_SHAPE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:\-]{0,127}")


def valid_tenant(value: object) -> str | None:
    """The tenant id when it is identifier-shaped (no ``@``, spaces, or free text), else ``None``."""
    return value if isinstance(value, str) and _TENANT_SHAPE.fullmatch(value) else None


def valid_opaque_id(value: object) -> str | None:
    """An opaque id (uuid, ``conv_…``) when identifier-shaped, else ``None``."""
    return value if isinstance(value, str) and _OPAQUE_ID_SHAPE.fullmatch(value) else None


class RequestContextSpanProcessor(SpanProcessor):
    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        try:
            entries = baggage.get_all(parent_context)
            if not entries:
                return
            tenant = valid_tenant(entries.get(TENANT_KEY))
            if tenant:
                span.set_attribute(TENANT_KEY, tenant)
            if entries.get(USER_KEY):
                from otel_secretary.context import trusted_user_id

                user = trusted_user_id(entries.get(USER_KEY), entries.get(USER_SIGNATURE_KEY))
                if user:
                    span.set_attribute(USER_KEY, user)
        except Exception as exc:  # on the request path: never raise into the app
            report_internal_error("context_processor.on_start", exc)

    def on_end(self, span: ReadableSpan) -> None:
        pass

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True
