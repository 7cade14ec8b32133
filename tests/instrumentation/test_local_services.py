"""The stand-ins speak enough of each API for the real client libraries, and faults behave as scripted."""

from __future__ import annotations

import subprocess
import sys
import urllib.request
from pathlib import Path

import openai
import pytest
import stripe
from googleapiclient.errors import HttpError

from otel_secretary.testing.local_services import Fault, calendar_api, openai_api, parse_faults, stripe_errors

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("429x2", [Fault(status=429), Fault(status=429)]),
        ("500", [Fault(status=500)]),
        ("slow:0.5", [Fault(delay=0.5)]),
        ("403:rateLimitExceeded,500", [Fault(status=403, reason="rateLimitExceeded"), Fault(status=500)]),
        ("reset", [Fault(reset=True)]),
    ],
    ids=["repeat", "single", "slow", "reason-list", "reset"],
)
def test_fault_specs_parse(spec: str, expected: list[Fault]) -> None:
    assert parse_faults(spec) == expected


def test_bad_fault_spec_is_rejected() -> None:
    with pytest.raises(ValueError, match="bad fault spec"):
        parse_faults("teapot")


def test_openai_chat_stream_embeddings_responses() -> None:
    with openai_api.start() as svc:
        client = openai.OpenAI(base_url=svc.url + "/v1", api_key="sk-fake-test", max_retries=0)
        chat = client.chat.completions.with_raw_response.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "Budget budget meeting notes"}]
        )
        assert chat.headers["x-ratelimit-remaining-requests"] == str(svc.limit_requests - 1)
        assert chat.headers["x-request-id"].startswith("req_")
        parsed = chat.parse()
        assert parsed.model == "gpt-4o-mini-2024-07-18"
        assert parsed.choices[0].message.content == "Summary: 4 words about budget, meeting, notes."
        assert parsed.usage is not None and parsed.usage.completion_tokens == 7

        stream = client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "hello"}],
            stream=True,
            stream_options={"include_usage": True},
        )
        chunks = list(stream)
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        assert text == "Summary: 1 words about hello."
        assert chunks[-1].choices == [] and chunks[-1].usage is not None
        assert chunks[-2].choices[0].finish_reason == "stop"

        embedding = client.embeddings.create(model="text-embedding-3-small", input=["a b", "c"])
        assert len(embedding.data) == 2 and len(embedding.data[0].embedding) == 8
        assert embedding.usage.prompt_tokens == 3

        response = client.responses.create(model="gpt-4o-mini", input="plan the offsite")
        assert response.output_text == "Summary: 3 words about plan, offsite."
        assert response.usage is not None and response.usage.input_tokens == 6


def test_openai_faults_queue_and_header() -> None:
    with openai_api.start() as svc:
        client = openai.OpenAI(base_url=svc.url + "/v1", api_key="sk-fake-test", max_retries=2)
        svc.fail("429x2")
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}])
        assert [r.headers["x-stainless-retry-count"] for r in svc.requests] == ["0", "1", "2"]

        with pytest.raises(openai.InternalServerError):
            client.with_options(max_retries=0).chat.completions.create(
                model="gpt-4o-mini",
                messages=[{"role": "user", "content": "x"}],
                extra_headers={"x-fake-fault": "500"},
            )
        with pytest.raises(openai.APITimeoutError):
            client.with_options(max_retries=0, timeout=0.2).chat.completions.create(
                model="gpt-4o-mini",
                messages=[{"role": "user", "content": "x"}],
                extra_headers={"x-fake-fault": "slow:1"},
            )


def test_calendar_with_real_client_and_rate_limit_retry() -> None:
    with calendar_api.start() as svc:
        calendar = calendar_api.build_client(svc)
        event = (
            calendar.events()
            .insert(
                calendarId="alice@example.com",
                body={
                    "summary": "Sync",
                    "start": {"dateTime": "2026-12-01T10:00:00Z"},
                    "end": {"dateTime": "2026-12-01T11:00:00Z"},
                },
            )
            .execute()
        )
        assert svc.events["alice@example.com"][0]["id"] == event["id"]
        assert (
            calendar.events().get(calendarId="alice@example.com", eventId=event["id"]).execute()["summary"]
            == "Sync"
        )

        svc.fail("403:rateLimitExceeded,429")
        request = calendar.calendarList().list()
        request._rand = lambda: 0.0  # no backoff sleep in tests
        assert request.execute(num_retries=2)["items"][0]["id"] == "primary"

        svc.fail("403:rateLimitExceeded")
        with pytest.raises(HttpError) as info:
            calendar.events().list(calendarId="primary").execute()
        assert info.value.resp.status == 403
        assert info.value.error_details[0]["reason"] == "rateLimitExceeded"


def test_stripe_errors_map_to_sdk_classes() -> None:
    with stripe_errors.start() as svc:
        client = stripe.StripeClient("sk_test_fake", base_addresses={"api": svc.url})
        customer = client.v1.customers.create(params={"email": "user@example.com"})
        assert customer.email == "user@example.com" and customer.id.startswith("cus_")

        with pytest.raises(stripe.CardError) as declined:
            client.v1.payment_intents.create(
                params={
                    "amount": 1000,
                    "currency": "usd",
                    "payment_method": "pm_card_chargeDeclinedInsufficientFunds",
                }
            )
        assert declined.value.code == "card_declined"
        assert declined.value.error is not None and declined.value.error.decline_code == "insufficient_funds"
        assert declined.value.request_id is not None and declined.value.request_id.startswith("req_")

        expected = {
            "400": stripe.InvalidRequestError,
            "400:idempotency_error": stripe.IdempotencyError,
            "429": stripe.RateLimitError,
            "500": stripe.APIError,
        }
        for spec, error_class in expected.items():
            svc.fail(spec)
            with pytest.raises(error_class):
                client.v1.customers.create(params={"email": "user@example.com"})


def test_stand_in_runs_standalone() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "otel_secretary.testing.local_services.stripe_errors", "--port", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(url + "/v1/customers") as answer:
            assert answer.headers["Request-Id"].startswith("req_")
    finally:
        process.terminate()
        process.wait(timeout=10)
