"""Issue 10 item 3: what leaves for a notification channel is PII-masked, and delivery is never traced.

Real pieces only: the SDK TracerProvider/MeterProvider feeding the embedded engine, the real dispatcher and
channels, real local HTTP receivers, and the real httpx instrumentation exporting to an in-memory exporter.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.resources import Resource
from opentelemetry.trace import SpanKind, Status, StatusCode

from otel_secretary.notify.channels import WebhookChannel
from otel_secretary.notify.dispatcher import Dispatcher, RetryPolicy
from otel_secretary.rules.embedded import EmbeddedRules
from otel_secretary.rules.engine import Notification
from otel_secretary.rules.spec import load_file
from otel_secretary.testing.receivers import HttpReceiver
from tests.support.otel_harness import Harness, open_harness

EMAIL = "jane.doe@example.com"
PHONE = "+44 20 7946 0958"  # Ofcom drama number
WEBHOOK_TOKEN = "whk0TOKEN7f3a9c2e"
SLACK_PATH = "/services/T00000000/B00000000/XXXXslackSECRET"
SPECS = f"""
rules:
  - name: UserRoute
    kind: error_rate
    threshold: 0.5
    window: 5m
    by: [service_name, span_name]
    selector: {{service: api, span_kind: server}}
    annotations:
      summary: "{{{{ $labels.span_name }}}} fails for {EMAIL}"
      runbook_url: docs/runbooks/error-rate.md
  - name: Signups
    kind: threshold
    severity: page
    metric: app.signups.waiting
    aggregate: max
    by: [app_contact]
    value: 1
    annotations:
      summary: "signups from {{{{ $labels.app_contact }}}}"
      runbook_url: docs/runbooks/error-rate.md
"""


def _forms(value: str) -> list[str]:
    """Raw, JSON-escaped, percent-encoded and space-less forms of a value."""
    from urllib.parse import quote, quote_plus

    return sorted(
        {value, json.dumps(value)[1:-1], quote(value), quote_plus(value), value.replace(" ", ""), "7946"}
    )


@pytest.fixture
def instrumented_httpx() -> Iterator[Harness]:
    with open_harness(Resource.create({"service.name": "api"})) as otel:
        HTTPXClientInstrumentor().instrument(tracer_provider=otel.tracer_provider)
        try:
            yield otel
        finally:
            HTTPXClientInstrumentor().uninstrument()


def test_pii_in_labels_and_annotations_never_reaches_the_channels_and_delivery_is_untraced(
    tmp_path: Path,
    http_receiver: HttpReceiver,
    http_receiver2: HttpReceiver,
    instrumented_httpx: Harness,
) -> None:
    tracer_provider = instrumented_httpx.tracer_provider
    spec_file = tmp_path / "specs.yaml"
    spec_file.write_text(SPECS, encoding="utf-8")
    webhook_url = f"{http_receiver.base_url}/hooks/{WEBHOOK_TOKEN}"
    slack_url = http_receiver2.base_url + SLACK_PATH
    config = tmp_path / "notify.yaml"
    config.write_text(
        f"""
retry: {{attempts: 1, backoff_seconds: 0.01}}
channels:
  - {{name: hook, type: webhook, url: "{webhook_url}", secret: "${{TEST_HOOK_SECRET}}"}}
  - {{name: slack, type: slack, url: "{slack_url}"}}
""",
        encoding="utf-8",
    )
    os.environ["TEST_HOOK_SECRET"] = "s3cret-for-tests"
    try:
        rules = EmbeddedRules(load_file(spec_file), tmp_path / "data", notify_config=config)
    finally:
        del os.environ["TEST_HOOK_SECRET"]
    tracer_provider.add_span_processor(rules.span_processor)
    meter_provider = MeterProvider(
        metric_readers=[rules.metric_reader], resource=Resource.create({"service.name": "api"})
    )
    waiting = meter_provider.get_meter("test").create_gauge("app.signups.waiting")
    tracer = tracer_provider.get_tracer("test")
    base = 29_000_000
    try:
        for minute in range(base, base + 8):
            for i in range(10):
                start = minute * 60_000_000_000 + i * 1_000_000
                span = tracer.start_span(
                    f"GET /users/{EMAIL}/call/{PHONE}", kind=SpanKind.SERVER, start_time=start
                )
                span.set_status(Status(StatusCode.ERROR))
                span.end(end_time=start + 5_000_000)
            waiting.set(2, {"app.contact": PHONE})
            rules.evaluate_now((minute + 1) * 60)
        assert rules.dispatcher is not None and rules.dispatcher.flush(10)
        hooks, slacks = http_receiver.requests, http_receiver2.requests
        assert len(hooks) == 2 and len(slacks) == 2, "both rules fired to both channels"
        received = b"".join(r["body"] for r in hooks + slacks).decode()
        for form in _forms(EMAIL) + _forms(PHONE):
            assert form not in received, form
        assert "<email>" in received and "<phone>" in received  # masked, not dropped
        state = (tmp_path / "data" / "rules-state.json").read_text(encoding="utf-8")
        assert EMAIL not in state and PHONE not in state

        # The instrumentation is live (a call of our own is traced) …
        httpx.post(http_receiver.base_url + "/probe", content=b"{}")
        urls = [
            str((s.attributes or {}).get("url.full") or (s.attributes or {}).get("http.url") or "")
            for s in instrumented_httpx.spans()
        ]
        assert any(u.endswith("/probe") for u in urls)
        # … but no delivery produced a span: no webhook token, no Slack URL in any exported attribute.
        dumped = json.dumps([dict(s.attributes or {}) for s in instrumented_httpx.spans()])
        assert WEBHOOK_TOKEN not in dumped and SLACK_PATH not in dumped and "hooks/" not in dumped
    finally:
        rules.shutdown()
        meter_provider.shutdown()


def test_delivery_errors_keep_no_webhook_token(tmp_path: Path) -> None:
    """A failed delivery's message (logged, kept in the dead-letter file) has no URL path or secret."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed once the block ends: connection refused
    channel = WebhookChannel("hook", f"http://127.0.0.1:{port}/hooks/{WEBHOOK_TOKEN}", "s3cret-for-tests")
    failed = tmp_path / "failed.json"
    dispatcher = Dispatcher([channel], RetryPolicy(attempts=1), failed_path=failed)
    notification = Notification(
        "trigger", "Test", "page", "0" * 16, {"user": EMAIL}, {"summary": f"call {PHONE}"}, 1.0, 0.0, 0.0
    )
    dispatcher.submit(notification)
    assert dispatcher.flush(10)
    dispatcher.close()
    kept = failed.read_text(encoding="utf-8")
    assert dispatcher.failed and WEBHOOK_TOKEN not in kept and "s3cret" not in kept
    assert EMAIL not in kept and PHONE not in kept
