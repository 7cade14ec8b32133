"""A bug inside our instrumentation costs a span, never the caller's answer: it is counted and logged once."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import openai
import pytest
import stripe

from otel_secretary._internal.self_monitoring import internal_error_counts
from otel_secretary.instrumentation import _common as common_module
from otel_secretary.instrumentation import google_calendar as calendar_module
from otel_secretary.instrumentation import openai as openai_module
from otel_secretary.instrumentation import stripe as stripe_module
from otel_secretary.instrumentation.openai import SecretaryOpenAIInstrumentor
from otel_secretary.testing.local_services import calendar_api, openai_api, stripe_errors
from tests.support.otel_harness import Harness


def _explode(*args: Any, **kwargs: Any) -> Any:
    raise RuntimeError("instrumentation bug (injected by the test)")


@pytest.fixture
def broken_attempts(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(common_module, "start_attempt_span", _explode)  # the Stripe attempt helper
    monkeypatch.setattr(openai_module, "start_attempt_span", _explode)
    monkeypatch.setattr(calendar_module, "server_of", _explode)
    yield


def test_calls_succeed_when_attempt_tracing_fails(otel: Harness, broken_attempts: None) -> None:
    before = internal_error_counts()
    with stripe_errors.start() as fake_stripe:
        http_client = stripe_module.TracedStripeHTTPClient(tracer_provider=otel.tracer_provider)
        client = stripe.StripeClient(
            "sk_test_123", base_addresses={"api": fake_stripe.url}, http_client=http_client
        )
        assert client.v1.customers.create(params={"email": "user@example.com"}).id.startswith("cus_")

    instrumentor = SecretaryOpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=otel.tracer_provider, meter_provider=otel.meter_provider)
    try:
        with openai_api.start() as fake_openai:
            ai = openai.OpenAI(base_url=fake_openai.url + "/v1", api_key="sk-fake-test")
            answer = ai.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
            )
            assert answer.choices[0].message.content
    finally:
        instrumentor.uninstrument()

    with calendar_api.start() as fake_calendar:
        builder = calendar_module.traced_request_builder(otel.tracer_provider, otel.meter_provider)
        service = calendar_api.build_client(fake_calendar, requestBuilder=builder)
        assert service.calendarList().list().execute()["items"]

    after = internal_error_counts()
    for where in ("stripe.attempt_start", "openai.attempt_start", "calendar.begin"):
        assert after.get(where, 0) > before.get(where, 0), where
    # The logical spans still exist where only the attempt layer failed.
    assert otel.spans("stripe POST /v1/customers") and otel.spans("chat gpt-4o-mini")
