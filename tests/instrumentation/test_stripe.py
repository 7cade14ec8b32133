"""Stripe: success paths against stripe-mock, error paths against the Stripe-format stand-in."""

from __future__ import annotations

import asyncio
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import stripe
from opentelemetry.semconv.attributes import error_attributes, http_attributes
from opentelemetry.trace import SpanKind, StatusCode

from otel_secretary.instrumentation._common import DURATION_METRIC, ERRORS_METRIC, hash_value
from otel_secretary.instrumentation.stripe import (
    WEBHOOK_METRIC,
    StripeInstrumentor,
    TracedStripeHTTPClient,
    traced_stripe_webhook,
)
from otel_secretary.testing.local_services import stripe_errors
from tests.support.otel_harness import Harness
from tests.support.processes import stripe_mock_binary

API_KEY = "sk_test_123"  # stripe-mock accepts any sk_test_ key of this shape; clearly fake


def stripe_mock_path() -> Path:
    """env STRIPE_MOCK_BIN, the CI build, PATH, then ``go install``'s default location."""
    found = stripe_mock_binary()
    if found is None:
        pytest.fail(
            "stripe-mock not found (STRIPE_MOCK_BIN, ~/.cache/otel-secretary/bin, PATH, ~/go/bin): "
            "run scripts/build-go-tools.sh or `go install github.com/stripe/stripe-mock@latest`"
        )
    return found


@pytest.fixture(scope="module")
def stripe_mock() -> Iterator[str]:
    # Port 0 for both listeners: stripe-mock would otherwise also open HTTPS on [::]:12112.
    process = subprocess.Popen(
        [str(stripe_mock_path()), "-http-addr", "127.0.0.1:0", "-https-addr", "127.0.0.1:0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + 30
        url = None
        while url is None and time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line and process.poll() is not None:
                pytest.fail(f"stripe-mock exited with {process.returncode}")
            match = re.search(r"Listening for HTTP at address: (127\.0\.0\.1:\d+)", line)
            if match:
                url = f"http://{match[1]}"
        assert url is not None, "stripe-mock did not report its HTTP address within 30 s"
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def instrumented(otel: Harness) -> Iterator[Harness]:
    instrumentor = StripeInstrumentor()
    instrumentor.instrument(tracer_provider=otel.tracer_provider, meter_provider=otel.meter_provider)
    try:
        yield otel
    finally:
        instrumentor.uninstrument()


@pytest.fixture
def fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    # Stripe sleeps at least 0.5 s between attempts; the retry logic itself is what we test.
    monkeypatch.setattr(stripe.HTTPClient, "INITIAL_DELAY", 0.001)
    monkeypatch.setattr(stripe.HTTPClient, "MAX_DELAY", 0.002)


@pytest.fixture(scope="module")
def fake_stripe() -> Iterator[stripe_errors.FakeStripe]:
    with stripe_errors.start() as service:
        yield service


def _attempts(otel: Harness, logical: Any) -> list[Any]:
    children = [
        s for s in otel.spans() if s.parent is not None and s.parent.span_id == logical.context.span_id
    ]
    return sorted(children, key=lambda s: s.start_time)


def _all_attribute_text(otel: Harness) -> str:
    return " ".join(str(v) for s in otel.spans() for v in s.attributes.values())


def test_success_paths_against_stripe_mock(instrumented: Harness, stripe_mock: str) -> None:
    client = stripe.StripeClient(API_KEY, base_addresses={"api": stripe_mock})
    customer = client.v1.customers.create(params={"email": "jenny.rosen@example.com", "name": "Jenny Rosen"})
    client.v1.customers.retrieve(customer.id)
    intent = client.v1.payment_intents.create(
        params={"amount": 2000, "currency": "usd", "payment_method": "pm_card_visa"}
    )
    client.v1.payment_intents.confirm(intent.id)

    names = [
        s.name
        for s in sorted(instrumented.spans(), key=lambda s: s.start_time)
        if s.name.startswith("stripe")
    ]
    assert names == [
        "stripe POST /v1/customers",
        "stripe GET /v1/customers/{id}",
        "stripe POST /v1/payment_intents",
        "stripe POST /v1/payment_intents/{id}/confirm",
    ]
    (create,) = instrumented.spans("stripe POST /v1/customers")
    assert create.kind is SpanKind.CLIENT and create.status.status_code is StatusCode.UNSET
    assert create.attributes["stripe.request_id"] == "req_123"  # stripe-mock's fixed id
    assert create.attributes[http_attributes.HTTP_RESPONSE_STATUS_CODE] == 200
    assert create.attributes["stripe.idempotency_key.source"] == "sdk"
    assert create.attributes["stripe.api_version"]
    (attempt,) = _attempts(instrumented, create)
    assert attempt.name == "POST /v1/customers" and attempt.kind is SpanKind.CLIENT
    assert http_attributes.HTTP_REQUEST_RESEND_COUNT not in attempt.attributes
    # Never the secret key, the customer's data, or raw ids in names/attributes.
    text = _all_attribute_text(instrumented)
    assert "sk_test" not in text and "jenny" not in text.lower() and customer.id not in text
    operations = {
        p.attributes["otel_secretary.external.operation"] for p in instrumented.points(DURATION_METRIC)
    }
    assert "GET /v1/customers/{id}" in operations


def test_async_client_calls_are_traced(instrumented: Harness, stripe_mock: str) -> None:
    async def run() -> None:
        client = stripe.StripeClient(API_KEY, base_addresses={"api": stripe_mock})
        await client.v1.customers.create_async(params={"email": "async@example.com"})

    asyncio.run(run())
    (span,) = instrumented.spans("stripe POST /v1/customers")
    assert span.attributes[http_attributes.HTTP_RESPONSE_STATUS_CODE] == 200
    assert span.attributes["stripe.request_id"] == "req_123"
    (attempt,) = _attempts(instrumented, span)
    assert attempt.name == "POST /v1/customers"
    # The async attempt carries the request id as the sync one does (it used to be missing).
    assert attempt.attributes["stripe.request_id"] == "req_123"
    assert attempt.attributes[http_attributes.HTTP_RESPONSE_STATUS_CODE] == 200


def test_sync_and_async_attempt_spans_carry_the_same_attributes(
    instrumented: Harness, stripe_mock: str
) -> None:
    client = stripe.StripeClient(API_KEY, base_addresses={"api": stripe_mock})
    client.v1.customers.create(params={"email": "sync@example.com"})

    async def run() -> None:
        await client.v1.customers.create_async(params={"email": "async@example.com"})

    asyncio.run(run())
    first, second = instrumented.spans("stripe POST /v1/customers")
    (sync_attempt,) = _attempts(instrumented, first)
    (async_attempt,) = _attempts(instrumented, second)
    assert dict(sync_attempt.attributes or {}) == dict(async_attempt.attributes or {})
    assert sync_attempt.kind is async_attempt.kind is SpanKind.CLIENT


def test_module_level_api_uses_traced_default_client(
    instrumented: Harness, stripe_mock: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stripe, "api_key", API_KEY)
    monkeypatch.setattr(stripe, "api_base", stripe_mock)
    stripe.Refund.create(charge="ch_3MmlLrLkdIwHu7ix0snN0B15")
    assert isinstance(stripe.default_http_client, TracedStripeHTTPClient)
    assert len(instrumented.spans("stripe POST /v1/refunds")) == 1


def test_card_declined(instrumented: Harness, fake_stripe: stripe_errors.FakeStripe) -> None:
    client = stripe.StripeClient(API_KEY, base_addresses={"api": fake_stripe.url})
    with pytest.raises(stripe.CardError):
        client.v1.payment_intents.create(
            params={
                "amount": 1000,
                "currency": "usd",
                "payment_method": "pm_card_chargeDeclinedInsufficientFunds",
            }
        )
    (span,) = instrumented.spans("stripe POST /v1/payment_intents")
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[error_attributes.ERROR_TYPE] == "card_error"
    assert span.attributes["stripe.error.code"] == "card_declined"
    assert span.attributes["stripe.error.decline_code"] == "insufficient_funds"
    assert span.attributes[http_attributes.HTTP_RESPONSE_STATUS_CODE] == 402
    assert "payment_method" not in _all_attribute_text(instrumented)
    (errors,) = instrumented.points(ERRORS_METRIC)
    assert dict(errors.attributes) == {
        "otel_secretary.external.system": "stripe",
        "otel_secretary.external.operation": "POST /v1/payment_intents",
        "error.type": "card_error",
    }


@pytest.mark.parametrize(
    ("fault", "error_class", "error_type"),
    [
        ("400", stripe.InvalidRequestError, "invalid_request_error"),
        ("400:idempotency_error", stripe.IdempotencyError, "idempotency_error"),
        ("429", stripe.RateLimitError, "RateLimitError"),
    ],
    ids=["invalid-request", "idempotency", "rate-limit-not-retried"],
)
def test_error_types(
    fault: str,
    error_class: type[Exception],
    error_type: str,
    instrumented: Harness,
    fake_stripe: stripe_errors.FakeStripe,
    fast_backoff: None,
) -> None:
    client = stripe.StripeClient(API_KEY, base_addresses={"api": fake_stripe.url}, max_network_retries=2)
    fake_stripe.fail(fault)
    with pytest.raises(error_class):
        client.v1.customers.create(params={"email": "user@example.com"})
    (span,) = instrumented.spans("stripe POST /v1/customers")
    assert span.attributes[error_attributes.ERROR_TYPE] == error_type
    assert len(_attempts(instrumented, span)) == 1  # Stripe retries neither 4xx nor 429


def test_server_error_retried_then_succeeds(
    instrumented: Harness, fake_stripe: stripe_errors.FakeStripe, fast_backoff: None
) -> None:
    client = stripe.StripeClient(API_KEY, base_addresses={"api": fake_stripe.url}, max_network_retries=2)
    fake_stripe.clear()
    fake_stripe.fail("500")
    client.v1.customers.create(params={"email": "user@example.com"})
    (span,) = instrumented.spans("stripe POST /v1/customers")
    assert span.status.status_code is StatusCode.UNSET and error_attributes.ERROR_TYPE not in span.attributes
    assert span.attributes[http_attributes.HTTP_REQUEST_RESEND_COUNT] == 1
    first, second = _attempts(instrumented, span)
    assert (
        first.attributes[error_attributes.ERROR_TYPE],
        first.attributes[http_attributes.HTTP_RESPONSE_STATUS_CODE],
    ) == (
        "500",
        500,
    )
    assert second.attributes[http_attributes.HTTP_REQUEST_RESEND_COUNT] == 1
    keys = {r.headers["idempotency-key"] for r in fake_stripe.requests}
    assert len(keys) == 1  # one logical call: the same key on both attempts
    assert span.attributes["stripe.idempotency_key"] == keys.pop()


def test_server_error_exhausted_is_api_error(
    instrumented: Harness, fake_stripe: stripe_errors.FakeStripe, fast_backoff: None
) -> None:
    client = stripe.StripeClient(API_KEY, base_addresses={"api": fake_stripe.url}, max_network_retries=1)
    fake_stripe.fail("500x2")
    with pytest.raises(stripe.APIError):
        client.v1.customers.create(params={"email": "user@example.com"})
    (span,) = instrumented.spans("stripe POST /v1/customers")
    assert span.attributes[error_attributes.ERROR_TYPE] == "api_error"
    assert len(_attempts(instrumented, span)) == 2


def test_caller_idempotency_key_is_hashed(
    instrumented: Harness, fake_stripe: stripe_errors.FakeStripe
) -> None:
    client = stripe.StripeClient(API_KEY, base_addresses={"api": fake_stripe.url})
    key = "order-4711-bob@example.org"
    client.v1.customers.create(params={"email": "bob@example.org"}, options={"idempotency_key": key})
    (span,) = instrumented.spans("stripe POST /v1/customers")
    assert span.attributes["stripe.idempotency_key"] == hash_value(key)
    assert span.attributes["stripe.idempotency_key.source"] == "caller"
    assert key not in _all_attribute_text(instrumented)


def test_connection_error(instrumented: Harness, fast_backoff: None) -> None:
    client = stripe.StripeClient(API_KEY, base_addresses={"api": "http://127.0.0.1:9"}, max_network_retries=1)
    with pytest.raises(stripe.APIConnectionError):
        client.v1.customers.retrieve("cus_NffrFeUfNV2Hib")
    (span,) = instrumented.spans("stripe GET /v1/customers/{id}")
    assert span.attributes[error_attributes.ERROR_TYPE] == "stripe.APIConnectionError"
    assert [a.attributes[error_attributes.ERROR_TYPE] for a in _attempts(instrumented, span)] == [
        "stripe.APIConnectionError"
    ] * 2


WEBHOOK_SECRET = "whsec_test_fake_secret"
EVENT_PAYLOAD = (
    '{"id": "evt_1NG8Du2eZvKYlo2CUI79vXWy", "object": "event", "type": "invoice.paid", "livemode": false,'
    ' "api_version": "2026-08-27", "created": 1700000000,'
    ' "data": {"object": {"id": "in_1", "object": "invoice"}}}'
)


def _signature(payload: str, secret: str, timestamp: int | None = None) -> str:
    timestamp = int(time.time()) if timestamp is None else timestamp
    signature = stripe.WebhookSignature._compute_signature(f"{timestamp}.{payload}", secret)
    return f"t={timestamp},v1={signature}"


def test_webhook_records_event_type_and_bad_signatures(otel: Harness) -> None:
    handled: list[str] = []

    @traced_stripe_webhook(
        WEBHOOK_SECRET, tracer_provider=otel.tracer_provider, meter_provider=otel.meter_provider
    )
    def on_event(event: Any) -> str:
        handled.append(event.type)
        return "ok"

    assert on_event(EVENT_PAYLOAD, _signature(EVENT_PAYLOAD, WEBHOOK_SECRET)) == "ok"
    with pytest.raises(stripe.SignatureVerificationError):
        on_event(EVENT_PAYLOAD, _signature(EVENT_PAYLOAD, "whsec_wrong"))
    with pytest.raises(stripe.SignatureVerificationError):
        on_event(EVENT_PAYLOAD, None)
    assert handled == ["invoice.paid"]

    ok, bad, missing = sorted(otel.spans(), key=lambda s: s.start_time)
    assert ok.name == "stripe webhook invoice.paid" and ok.attributes["stripe.event.type"] == "invoice.paid"
    assert ok.status.status_code is StatusCode.UNSET
    for span in (bad, missing):
        assert span.status.status_code is StatusCode.ERROR
        assert span.attributes[error_attributes.ERROR_TYPE] == "stripe.SignatureVerificationError"
    counts = {
        (p.attributes["stripe.event.type"], p.attributes["outcome"]): p.value
        for p in otel.points(WEBHOOK_METRIC)
    }
    assert counts == {("invoice.paid", "processed"): 1, ("unknown", "invalid_signature"): 2}


def test_webhook_decorator_rejects_non_callable() -> None:
    with pytest.raises(TypeError, match="traced_stripe_webhook"):
        traced_stripe_webhook(WEBHOOK_SECRET)("not a function")  # type: ignore[arg-type]


def test_generic_requests_instrumentation_does_not_duplicate_attempts(
    instrumented: Harness, fake_stripe: stripe_errors.FakeStripe
) -> None:
    from opentelemetry.instrumentation.requests import RequestsInstrumentor

    generic = RequestsInstrumentor()
    generic.instrument(
        tracer_provider=instrumented.tracer_provider, meter_provider=instrumented.meter_provider
    )
    try:
        fake_stripe.clear()
        client = stripe.StripeClient(API_KEY, base_addresses={"api": fake_stripe.url})
        client.v1.customers.retrieve("cus_NffrFeUfNV2Hib")
    finally:
        generic.uninstrument()
    assert sorted(s.name for s in instrumented.spans()) == [
        "GET /v1/customers/{id}",
        "stripe GET /v1/customers/{id}",
    ]
    (attempt,) = instrumented.spans("GET /v1/customers/{id}")
    assert f"{attempt.context.span_id:016x}" in fake_stripe.requests[0].headers["traceparent"]
