"""Stripe instrumentation (no upstream exists): a traced ``stripe.HTTPClient`` and a webhook decorator.

:class:`TracedStripeHTTPClient` wraps any stripe HTTP client. Its ``request_with_retries`` is the
logical call (span ``stripe {METHOD} {url.template}``, duration including Stripe's backoff); the
SDK's retry loop then calls its ``request`` once per physical attempt, each an HTTP CLIENT child
span with ``http.request.resend_count``. :class:`StripeInstrumentor` installs it as the module
default client and into every ``StripeClient``.

Recorded: method, templated path (ids become ``{id}``), status, ``Request-Id``, API version, the
idempotency key (the SDK's random UUID as is, a caller-supplied key only hashed: it may embed order
ids), retries, and on failure Stripe's error ``type``/``code``/``decline_code``/``advice_code``.
Never recorded: the Authorization header, request or response bodies, payment methods, full URLs.
"""

from __future__ import annotations

import contextvars
import functools
import json
import re
import timeit
from collections.abc import Callable, Collection, Mapping
from typing import Any, Final, TypeVar

import stripe
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]
from opentelemetry.instrumentation.utils import unwrap
from opentelemetry.metrics import MeterProvider, get_meter
from opentelemetry.semconv.attributes import error_attributes, http_attributes, server_attributes
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, TracerProvider
from opentelemetry.util.types import AttributeValue
from wrapt import wrap_function_wrapper

from otel_secretary import semconv
from otel_secretary._internal.self_monitoring import report_internal_error
from otel_secretary.errors import record_exception
from otel_secretary.version import __version__

from ._common import (
    SCOPE,
    Instruments,
    hash_value,
    make_tracer,
    qualified_name,
    server_of,
    template_path,
    traced_attempt,
)

SYSTEM: Final = "stripe"
WEBHOOK_METRIC: Final = semconv.STRIPE_WEBHOOK_EVENTS.name
_SDK_KEY = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")

R = TypeVar("R")


class _LogicalCall:
    """The state of one ``request_with_retries``: its span, attempt count and final outcome."""

    __slots__ = ("attempts", "call_token", "context_token", "operation", "span", "started")

    def __init__(self, span: Span, operation: str) -> None:
        self.span = span
        self.operation = operation
        self.attempts = 0
        self.started = timeit.default_timer()
        self.context_token: Any = None
        self.call_token: Any = None


class _LogicalScope:
    """``with`` block of one logical call, for the sync and async paths alike: the block stores the
    SDK's response; leaving it, normally or by an exception, completes the call's span and metric."""

    __slots__ = ("call", "client", "response")

    def __init__(self, client: TracedStripeHTTPClient, call: _LogicalCall | None) -> None:
        self.client = client
        self.call = call
        self.response: Any = None

    def __enter__(self) -> _LogicalScope:
        return self

    def __exit__(self, exc_type: object, error: BaseException | None, traceback: object) -> None:
        self.client._complete(self.call, self.response, error)


_current: contextvars.ContextVar[_LogicalCall | None] = contextvars.ContextVar(
    "otel_secretary_stripe_call", default=None
)


def _header(headers: Mapping[str, Any] | None, name: str) -> str | None:
    if not headers:
        return None
    value = headers.get(name)
    if value is None:
        lowered = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == lowered), None)
    return None if value is None else str(value)


def _stripe_error(content: Any) -> dict[str, str]:
    """Only the classifying fields of Stripe's error body: never message, param values or objects."""
    if isinstance(content, bytes):
        content = content.decode("utf-8", "replace")
    if not isinstance(content, str):
        return {}
    try:
        error = json.loads(content).get("error")
    except (ValueError, AttributeError):
        return {}
    if not isinstance(error, dict):
        return {}
    return {k: str(error[k]) for k in ("type", "code", "decline_code", "advice_code") if error.get(k)}


class TracedStripeHTTPClient(stripe.HTTPClient):  # type: ignore[misc]
    """A stripe ``HTTPClient`` tracing logical calls and physical attempts; ``inner`` does the I/O."""

    def __init__(
        self,
        inner: stripe.HTTPClient | None = None,
        *,
        tracer_provider: TracerProvider | None = None,
        meter_provider: MeterProvider | None = None,
    ) -> None:
        super().__init__()
        self.inner = inner if inner is not None else stripe.new_default_http_client()
        self.name = getattr(self.inner, "name", "traced")  # type: ignore[misc]
        self._tracer = make_tracer(tracer_provider)
        self._instruments = Instruments(meter_provider)

    # -- logical call (the SDK's retry loop runs inside) ------------------------------------------

    def _begin(self, method: str, url: str, headers: Mapping[str, str] | None) -> _LogicalCall | None:
        try:
            method = method.upper()
            host, port, path = server_of(url)
            template = template_path(path)
            attributes: dict[str, AttributeValue] = {
                http_attributes.HTTP_REQUEST_METHOD: method,
                "url.template": template,
            }
            if host:
                attributes[server_attributes.SERVER_ADDRESS] = host
            if port:
                attributes[server_attributes.SERVER_PORT] = port
            version = _header(headers, "Stripe-Version")
            if version:
                attributes["stripe.api_version"] = version
            key = _header(headers, "Idempotency-Key")
            if key:
                generated = bool(_SDK_KEY.match(key))
                attributes["stripe.idempotency_key"] = key if generated else hash_value(key)
                attributes["stripe.idempotency_key.source"] = "sdk" if generated else "caller"
            operation = f"{method} {template}"
            span = self._tracer.start_span(f"stripe {operation}", kind=SpanKind.CLIENT, attributes=attributes)
            call = _LogicalCall(span, operation)
            call.context_token = otel_context.attach(trace.set_span_in_context(span))
            call.call_token = _current.set(call)
            return call
        except Exception as exc:
            report_internal_error("stripe.begin", exc)
            return None

    def _complete(self, call: _LogicalCall | None, response: Any, error: BaseException | None) -> None:
        if call is None:
            return
        try:
            _current.reset(call.call_token)
            otel_context.detach(call.context_token)
            span = call.span
            if call.attempts > 1:
                span.set_attribute(http_attributes.HTTP_REQUEST_RESEND_COUNT, call.attempts - 1)
            error_type: str | None = None
            if response is not None:
                content, status, headers = response
                span.set_attribute(http_attributes.HTTP_RESPONSE_STATUS_CODE, int(status))
                _set_request_id(span, response)
                should_retry = _header(headers, "Stripe-Should-Retry")
                if should_retry is not None:
                    span.set_attribute("stripe.should_retry", should_retry == "true")
                if int(status) >= 400:
                    details = _stripe_error(content)
                    # Stripe has no rate-limit error type: the SDK raises RateLimitError for a 429.
                    error_type = (
                        "RateLimitError" if int(status) == 429 else details.get("type") or str(status)
                    )
                    for field in ("code", "decline_code", "advice_code"):
                        if field in details:
                            span.set_attribute(f"stripe.error.{field}", details[field])
            elif error is not None:
                error_type = qualified_name(error)
                record_exception(span, error, system=SYSTEM)
            if error_type is not None:
                span.set_attribute(error_attributes.ERROR_TYPE, error_type)
                span.set_status(Status(StatusCode.ERROR, error_type))
            span.end()
            self._instruments.record_call(
                SYSTEM, call.operation, timeit.default_timer() - call.started, error_type
            )
        except Exception as exc:
            report_internal_error("stripe.complete", exc)

    def request_with_retries(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        post_data: Any = None,
        max_network_retries: int | None = None,
        *,
        _usage: list[str] | None = None,
    ) -> tuple[str, int, Mapping[str, str]]:
        send = super().request_with_retries
        return self._logical(send, method, url, headers, post_data, max_network_retries, _usage)  # type: ignore[no-any-return]

    def request_stream_with_retries(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        post_data: Any = None,
        max_network_retries: int | None = None,
        *,
        _usage: list[str] | None = None,
    ) -> tuple[Any, int, Mapping[str, str]]:
        send = super().request_stream_with_retries
        return self._logical(send, method, url, headers, post_data, max_network_retries, _usage)  # type: ignore[no-any-return]

    def _logical(
        self,
        send: Callable[..., Any],
        method: str,
        url: str,
        headers: Mapping[str, str],
        post_data: Any,
        max_network_retries: int | None,
        usage: list[str] | None,
    ) -> Any:
        """One logical span around the SDK's retry loop (sync paths; the async one awaits in this scope)."""
        with _LogicalScope(self, self._begin(method, url, headers)) as scope:
            scope.response = send(method, url, headers, post_data, max_network_retries, _usage=usage)
        return scope.response

    async def request_with_retries_async(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        post_data: Any = None,
        max_network_retries: int | None = None,
        *,
        _usage: list[str] | None = None,
    ) -> tuple[Any, int, Any]:
        with _LogicalScope(self, self._begin(method, url, headers)) as scope:
            scope.response = await super().request_with_retries_async(
                method, url, headers, post_data, max_network_retries, _usage=_usage
            )
        return scope.response  # type: ignore[no-any-return]

    # -- physical attempts -------------------------------------------------------------------------

    def _attempt_context(self, method: str, url: str, headers: Mapping[str, str] | None) -> Any:
        call = _current.get()
        resend = call.attempts if call is not None else 0
        if call is not None:
            call.attempts += 1
        return traced_attempt(
            self._tracer,
            self._instruments,
            method.upper(),
            url,
            resend,
            headers,
            where="stripe",
            status_of=lambda response: int(response[1]),
            on_response=_set_request_id,
        )

    def _attempt(
        self, method: str, url: str, headers: Mapping[str, str] | None, send: Callable[[Any], Any]
    ) -> Any:
        with self._attempt_context(method, url, headers) as attempt:
            attempt.response = send(attempt.headers)
        return attempt.response

    async def _attempt_async(
        self, method: str, url: str, headers: Mapping[str, str] | None, send: Callable[[Any], Any]
    ) -> Any:
        with self._attempt_context(method, url, headers) as attempt:
            attempt.response = await send(attempt.headers)
        return attempt.response

    def request(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None,
        post_data: Any = None,
        *,
        _usage: list[str] | None = None,
    ) -> tuple[str, int, Mapping[str, str]]:
        return self._attempt(  # type: ignore[no-any-return]
            method, url, headers, lambda h: self.inner.request(method, url, h, post_data)
        )

    def request_stream(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None,
        post_data: Any = None,
        *,
        _usage: list[str] | None = None,
    ) -> tuple[Any, int, Mapping[str, str]]:
        return self._attempt(  # type: ignore[no-any-return]
            method, url, headers, lambda h: self.inner.request_stream(method, url, h, post_data)
        )

    async def request_async(
        self, method: str, url: str, headers: Mapping[str, str], post_data: Any = None
    ) -> tuple[bytes, int, Mapping[str, str]]:
        return await self._attempt_async(  # type: ignore[no-any-return]
            method, url, headers, lambda h: self.inner.request_async(method, url, h, post_data)
        )

    async def request_stream_async(
        self, method: str, url: str, headers: Mapping[str, str], post_data: Any = None
    ) -> tuple[Any, int, Mapping[str, str]]:
        return await self._attempt_async(  # type: ignore[no-any-return]
            method, url, headers, lambda h: self.inner.request_stream_async(method, url, h, post_data)
        )

    def sleep_async(self, secs: float) -> Any:
        return self.inner.sleep_async(secs)

    def close(self) -> None:
        self.inner.close()  # type: ignore[no-untyped-call]

    async def close_async(self) -> None:
        await self.inner.close_async()  # type: ignore[no-untyped-call]


def _set_request_id(span: Span, response: Any) -> None:
    request_id = _header(response[2], "Request-Id")
    if request_id:
        span.set_attribute("stripe.request_id", request_id)


# -- webhooks --------------------------------------------------------------------------------------


class _WebhookMetrics:
    def __init__(self, meter_provider: MeterProvider | None) -> None:
        meter = get_meter(SCOPE, __version__, meter_provider=meter_provider)
        self.events = semconv.counter(meter, semconv.STRIPE_WEBHOOK_EVENTS)


def traced_stripe_webhook(
    secret: str | Callable[[], str],
    *,
    tolerance: int = 300,
    tracer_provider: TracerProvider | None = None,
    meter_provider: MeterProvider | None = None,
) -> Callable[[Callable[[Any], R]], Callable[[bytes | str, str | None], R]]:
    """Verify a Stripe webhook, then call the decorated handler with the event, inside a span.

    The wrapped function takes ``(payload, signature_header)`` (``request.data`` and the
    ``Stripe-Signature`` header). A bad signature raises ``stripe.SignatureVerificationError`` as
    before (answer 400), after the span and ``otel_secretary.stripe.webhook.events`` record it.
    """
    tracer = make_tracer(tracer_provider)
    metrics = _WebhookMetrics(meter_provider)

    def decorate(handler: Callable[[Any], R]) -> Callable[[bytes | str, str | None], R]:
        if not callable(handler):
            raise TypeError(
                f"@traced_stripe_webhook can only decorate a callable, not {type(handler).__name__}"
            )

        @functools.wraps(handler)
        def wrapper(payload: bytes | str, signature: str | None) -> R:
            # INTERNAL: the web framework's instrumentation already owns the SERVER span of the delivery.
            with tracer.start_as_current_span(
                "stripe webhook",
                kind=SpanKind.INTERNAL,
                record_exception=False,
                set_status_on_exception=False,
            ) as span:
                outcome, event_type = "processed", "unknown"
                try:
                    key = secret() if callable(secret) else secret
                    event = stripe.Webhook.construct_event(payload, signature, key, tolerance)
                except stripe.SignatureVerificationError as exc:
                    outcome = "invalid_signature"
                    _fail(span, exc, "stripe.SignatureVerificationError")
                    raise
                except ValueError as exc:
                    outcome = "invalid_payload"
                    _fail(span, exc, "invalid_payload")
                    raise
                finally:
                    if outcome != "processed":
                        metrics.events.add(1, {semconv.STRIPE_EVENT_TYPE: event_type, "outcome": outcome})
                event_type = str(getattr(event, "type", None) or "unknown")
                span.set_attributes(
                    {
                        semconv.STRIPE_EVENT_TYPE: event_type,
                        "stripe.event.id": str(getattr(event, "id", "")),
                        "stripe.event.livemode": bool(getattr(event, "livemode", False)),
                    }
                )
                span.update_name(f"stripe webhook {event_type}")
                try:
                    result = handler(event)
                except Exception as exc:
                    outcome = "handler_error"
                    _fail(span, exc, qualified_name(exc))
                    raise
                finally:
                    metrics.events.add(1, {semconv.STRIPE_EVENT_TYPE: event_type, "outcome": outcome})
                return result

        return wrapper

    return decorate


def _fail(span: Span, exc: BaseException, error_type: str) -> None:
    record_exception(span, exc, system=SYSTEM)
    span.set_attribute(error_attributes.ERROR_TYPE, error_type)
    span.set_status(Status(StatusCode.ERROR, error_type))


# -- instrumentor ----------------------------------------------------------------------------------


class StripeInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Traces every stripe call: the module default client and each ``StripeClient``'s client."""

    _providers: dict[str, Any] = {}

    def instrumentation_dependencies(self) -> Collection[str]:
        return ("stripe >= 10.0",)

    def _instrument(self, **kwargs: Any) -> None:
        providers = {k: kwargs.get(k) for k in ("tracer_provider", "meter_provider")}
        type(self)._providers = providers
        wrap_function_wrapper("stripe._stripe_client", "StripeClient.__init__", _trace_stripe_client)
        current = stripe.default_http_client
        if not isinstance(current, TracedStripeHTTPClient):
            inner = current or stripe.new_default_http_client(
                verify_ssl_certs=stripe.verify_ssl_certs, proxy=stripe.proxy
            )
            stripe.default_http_client = TracedStripeHTTPClient(inner, **providers)

    def _uninstrument(self, **kwargs: Any) -> None:
        unwrap(stripe.StripeClient, "__init__")
        current = stripe.default_http_client
        if isinstance(current, TracedStripeHTTPClient):
            stripe.default_http_client = current.inner


def _trace_stripe_client(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    wrapped(*args, **kwargs)
    try:
        # StripeClient keeps its HTTP client on its requestor (stripe 16.x); wrap it there once.
        requestor = instance._requestor
        if not isinstance(requestor._client, TracedStripeHTTPClient):
            requestor._client = TracedStripeHTTPClient(requestor._client, **StripeInstrumentor._providers)
    except Exception as exc:
        report_internal_error("stripe.wrap_client", exc)
