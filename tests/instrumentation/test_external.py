"""@traced_external_call: the same span and metric shape as Stripe and Calendar for any dependency."""

from __future__ import annotations

import asyncio
import inspect
import urllib.error
import urllib.request
from typing import Any

import pytest
from opentelemetry.semconv.attributes import error_attributes
from opentelemetry.trace import SpanKind, StatusCode

from otel_secretary.instrumentation._common import DURATION_METRIC, ERRORS_METRIC
from otel_secretary.instrumentation.external import traced_external_call
from otel_secretary.testing.local_services import stripe_errors
from tests.support.otel_harness import Harness


def test_sync_success_and_failure(otel: Harness) -> None:
    with stripe_errors.start() as crm:

        @traced_external_call(
            "crm", "list_contacts", tracer_provider=otel.tracer_provider, meter_provider=otel.meter_provider
        )
        def list_contacts(url: str) -> int:
            with urllib.request.urlopen(url + "/v1/customers", timeout=5) as answer:
                return int(answer.status)

        assert list_contacts(crm.url) == 200
        crm.fail("500")
        with pytest.raises(urllib.error.HTTPError):
            list_contacts(crm.url)

    ok, failed = sorted(otel.spans("crm list_contacts"), key=lambda s: s.start_time)
    assert ok.kind is SpanKind.CLIENT and ok.status.status_code is StatusCode.UNSET
    assert ok.attributes["otel_secretary.external.system"] == "crm"
    assert failed.status.status_code is StatusCode.ERROR
    assert failed.attributes[error_attributes.ERROR_TYPE] == "urllib.HTTPError"
    durations = {p.attributes.get("error.type"): p.count for p in otel.points(DURATION_METRIC)}
    assert durations == {None: 1, "urllib.HTTPError": 1}
    (errors,) = otel.points(ERRORS_METRIC)
    assert errors.value == 1 and errors.attributes["otel_secretary.external.operation"] == "list_contacts"


def test_async_function(otel: Harness) -> None:
    @traced_external_call(
        "sms", "send", tracer_provider=otel.tracer_provider, meter_provider=otel.meter_provider
    )
    async def send_sms(number: str) -> str:
        await asyncio.sleep(0)
        return "queued"

    assert inspect.iscoroutinefunction(send_sms)
    assert asyncio.run(send_sms("+1-555-0100")) == "queued"
    (span,) = otel.spans("sms send")
    assert "555" not in str(dict(span.attributes))


@pytest.mark.parametrize(
    "apply",
    [
        pytest.param(lambda: traced_external_call("", "op"), id="empty-system"),
        pytest.param(lambda: traced_external_call("crm", "op")(None), id="not-callable"),
        pytest.param(lambda: traced_external_call("crm", "op")(_generator), id="generator"),
    ],
)
def test_misuse_fails_at_decoration_time(apply: Any) -> None:
    with pytest.raises(TypeError, match="traced_external_call"):
        apply()


def _generator() -> Any:
    yield 1
