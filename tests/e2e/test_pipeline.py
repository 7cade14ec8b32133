"""The collector pipeline on its own, fed by a plain OTLP client: redaction, span metrics, alert delivery."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from opentelemetry.trace import SpanKind, Status, StatusCode

from tests.e2e._apis import eventually, spans_of, tags
from tests.e2e._otlp import plain_tracer_provider
from tests.e2e.conftest import RunningStack

pytestmark = pytest.mark.e2e

# Synthetic PII only.
EMAIL = "jane.roe@example.com"
CARD = "4242 4242 4242 4242"
STRIPE_KEY = "sk_test_FAKEFAKEFAKE0000"


def test_collector_redacts_pii_sent_by_a_client_that_bypasses_our_sdk(running_stack: RunningStack) -> None:
    provider = plain_tracer_provider(running_stack.otlp_http, "e2e-plain-client")
    tracer = provider.get_tracer("e2e")
    with tracer.start_as_current_span("POST /checkout", kind=SpanKind.SERVER) as span:
        span.set_attribute("enduser.email", EMAIL)
        span.set_attribute("app.note", f"call {EMAIL} about the invoice")
        span.set_attribute("payment.card", CARD)
        span.set_attribute("http.request.header.authorization", f"Bearer {STRIPE_KEY}")
        span.set_attribute("app.plan", "pro")
        span.add_event("card declined", {"payment.card": CARD})
    provider.force_flush()
    provider.shutdown()

    trace = eventually(
        lambda: running_stack.jaeger.traces("e2e-plain-client"),
        timeout=60,
        what="plain-client trace in Jaeger",
    )[0]
    span_json = next(s for s in spans_of(trace) if s["operationName"] == "POST /checkout")
    stored = json.dumps(trace)
    for secret in (EMAIL, CARD, STRIPE_KEY, "4242424242424242"):
        assert secret not in stored, f"{secret!r} reached Jaeger"
    attributes = tags(span_json)
    # Masked, not dropped: the keys survive so the span stays useful; benign values are untouched.
    assert {"enduser.email", "app.note", "payment.card"} <= attributes.keys()
    assert attributes["app.plan"] == "pro"
    assert attributes["app.note"].startswith("call ") and attributes["app.note"].endswith("about the invoice")


def _send_calls(
    running_stack: RunningStack, service: str, *, total: int, failing: int, seconds: float
) -> None:
    provider = plain_tracer_provider(running_stack.otlp_http, service)
    tracer = provider.get_tracer("e2e")
    for i in range(total):
        with tracer.start_as_current_span("GET /api/v1/messages", kind=SpanKind.SERVER) as span:
            if i % max(1, total // max(1, failing)) == 0 and failing:
                span.set_status(Status(StatusCode.ERROR, "boom"))
        time.sleep(seconds / total)
        if i % 10 == 0:
            provider.force_flush()
    provider.force_flush()
    provider.shutdown()


def test_span_metrics_reach_prometheus_with_service_span_kind_and_status(running_stack: RunningStack) -> None:
    _send_calls(running_stack, "e2e-metrics", total=20, failing=5, seconds=1.0)
    prom = running_stack.prometheus

    def series() -> list[dict[str, Any]]:
        # The exporter first exposes a new cumulative series at 0 (its start), then the counts.
        result = prom.query('traces_span_metrics_calls_total{service_name="e2e-metrics"}')
        by_code = {r["metric"]["status_code"]: float(r["value"][1]) for r in result}
        return result if by_code == {"STATUS_CODE_ERROR": 5.0, "STATUS_CODE_UNSET": 15.0} else []

    result = eventually(series, timeout=60, what="5 error + 15 unset calls in Prometheus")
    labels = result[0]["metric"]
    assert labels["span_name"] == "GET /api/v1/messages"
    assert labels["span_kind"] == "SPAN_KIND_SERVER"
    buckets = prom.query('traces_span_metrics_duration_seconds_bucket{service_name="e2e-metrics"}')
    assert {b["metric"]["le"] for b in buckets} >= {"0.005", "0.1", "1", "+Inf"}


def test_page_alert_goes_through_the_generated_routing_to_pagerduty_and_slack(
    running_stack: RunningStack,
) -> None:
    """The routing `otel-secretary rules alertmanager` generates, with local stand-ins for PagerDuty and
    Slack: a page reaches both, and its ticket twin (same labels) is inhibited rather than notified."""
    _send_calls(running_stack, "e2e-failing", total=60, failing=30, seconds=6.0)

    def firing_in_prometheus() -> list[dict[str, Any]]:
        return [
            a
            for a in running_stack.prometheus.alerts()
            if a["labels"].get("alertname") == "E2EHighErrorRate"
            and a["labels"].get("service_name") == "e2e-failing"
            and a["state"] == "firing"
        ]

    firing = eventually(firing_in_prometheus, timeout=60, what="E2EHighErrorRate firing in Prometheus")
    assert {a["labels"]["severity"] for a in firing} == {"page", "ticket"}

    def in_alertmanager() -> dict[str, dict[str, Any]] | None:
        alerts = {
            a["labels"]["severity"]: a
            for a in running_stack.alertmanager.alerts()
            if a["labels"].get("alertname") == "E2EHighErrorRate"
            and a["labels"].get("service_name") == "e2e-failing"
        }
        return alerts if {"page", "ticket"} <= alerts.keys() else None

    alerts = eventually(in_alertmanager, timeout=30, what="both tiers in Alertmanager")
    assert alerts["page"]["status"]["state"] == "active"
    assert {r["name"] for r in alerts["page"]["receivers"]} == {"pagerduty", "slack-pages"}
    # The generated inhibition: the page mutes its ticket twin (same alertname and grouping labels).
    ticket = eventually(
        lambda: next(
            (
                a
                for a in running_stack.alertmanager.alerts()
                if a["labels"].get("alertname") == "E2EHighErrorRate"
                and a["labels"].get("service_name") == "e2e-failing"  # other services fire it too
                and a["labels"].get("severity") == "ticket"
                and a["status"]["inhibitedBy"]
            ),
            None,
        ),
        timeout=15,
        what="ticket tier inhibited",
    )
    assert ticket["status"]["state"] == "suppressed"
    assert ticket["status"]["inhibitedBy"] == [alerts["page"]["fingerprint"]]

    webhook = running_stack.webhook

    def about_this_service(path: str) -> list[dict[str, Any]]:
        # Other services' calls may fire the same alert in its own group (grouped by service_name).
        return [p for p in webhook.received("E2EHighErrorRate", path) if "e2e-failing" in json.dumps(p)]

    pagerduty = eventually(lambda: about_this_service("/pagerduty"), timeout=30, what="PagerDuty event")
    event = pagerduty[0]
    assert event["routing_key"] == "local-stack-routing-key" and event["event_action"] == "trigger"
    assert event["payload"]["severity"] == "critical"
    assert event["payload"]["summary"].startswith("[FIRING:1] E2EHighErrorRate")
    slack = eventually(lambda: about_this_service("/slack"), timeout=30, what="Slack message")
    # Pages' channel only: this service's inhibited ticket would have gone to #alerts. (Another service
    # whose error rate reaches only the ticket tier rightly has its message in #alerts.)
    slack = eventually(lambda: about_this_service("/slack"), timeout=5, what="this service's Slack messages")
    assert {m["channel"] for m in slack} == {"#incidents"}, slack
    (attachment,) = slack[0]["attachments"]
    assert "e2e-failing fails" in attachment["text"] and "(page)" in attachment["text"]
