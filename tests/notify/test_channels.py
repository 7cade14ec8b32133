"""Channels against real local receivers; payloads checked against the services' documented formats."""

from __future__ import annotations

import json
import time
from typing import Any

from otel_secretary.notify.channels import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    EmailChannel,
    PagerDutyChannel,
    SlackChannel,
    WebhookChannel,
    sign,
)
from otel_secretary.notify.dispatcher import Dispatcher, RetryPolicy
from otel_secretary.testing.receivers import HttpReceiver
from tests.support.polling import wait_for

from .conftest import note


def test_email_has_text_and_escaped_html_parts(smtp_server: Any) -> None:
    mailbox = smtp_server
    channel = EmailChannel("mail", "127.0.0.1", mailbox.port, "alerts@example.com", ["oncall@example.com"])
    channel.send(note())
    (message,) = mailbox.messages
    assert message["Subject"].startswith("[FIRING] ApiBudgetBurn (page)")
    assert message["To"] == "oncall@example.com"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "service_name: ai-secretary" in text and "api <is> failing" in text
    assert "api &lt;is&gt; failing" in html and "<is>" not in html


def test_slack_uses_block_kit(http_receiver: HttpReceiver) -> None:
    SlackChannel("slack", http_receiver.url).send(note())
    (body,) = http_receiver.bodies()
    assert body["text"].startswith("[FIRING] ApiBudgetBurn")
    types = [block["type"] for block in body["blocks"]]
    assert types == ["header", "section", "section", "context"]
    assert body["blocks"][0]["text"]["type"] == "plain_text" and len(body["blocks"][0]["text"]["text"]) <= 150
    assert all(field["type"] == "mrkdwn" for field in body["blocks"][2]["fields"])


def test_webhook_body_is_signed_with_hmac_sha256_and_timestamp(http_receiver: HttpReceiver) -> None:
    WebhookChannel("hook", http_receiver.url, "test-secret-not-real").send(note("resolve"))
    (request,) = http_receiver.requests
    headers = {k.lower(): v for k, v in request["headers"].items()}
    timestamp = headers[TIMESTAMP_HEADER.lower()]
    assert abs(int(timestamp) - time.time()) < 60
    expected = "sha256=" + sign(b"test-secret-not-real", timestamp, request["body"])
    assert headers[SIGNATURE_HEADER.lower()] == expected
    assert headers[SIGNATURE_HEADER.lower()] != "sha256=" + sign(b"wrong", timestamp, request["body"])
    body = json.loads(request["body"])
    assert body["version"] == "4" and body["status"] == "resolved"
    assert body["alerts"][0]["fingerprint"] == "0123456789abcdef"
    assert body["alerts"][0]["endsAt"].endswith("Z")


def test_pagerduty_trigger_ack_resolve_share_one_dedup_key(http_receiver: HttpReceiver) -> None:
    channel = PagerDutyChannel("pd", "R0UTINGKEY0000000000000000000000", url=http_receiver.url)
    for kind in ("trigger", "acknowledge", "resolve"):
        channel.send(note(kind))
    trigger, ack, resolve = http_receiver.bodies()
    assert [b["event_action"] for b in (trigger, ack, resolve)] == ["trigger", "acknowledge", "resolve"]
    assert trigger["dedup_key"] == ack["dedup_key"] == resolve["dedup_key"] == "0123456789abcdef"
    assert all(b["routing_key"] == "R0UTINGKEY0000000000000000000000" for b in (trigger, ack, resolve))
    payload = trigger["payload"]
    assert {"summary", "source", "severity"} <= payload.keys()
    assert (
        payload["severity"] in {"critical", "error", "warning", "info"}
        and payload["source"] == "ai-secretary"
    )
    assert len(payload["summary"]) <= 1024 and "payload" not in resolve


def test_failing_channel_never_blocks_others_and_failures_are_kept_then_retried(
    http_receiver: HttpReceiver, http_receiver2: HttpReceiver, tmp_path: Any
) -> None:
    broken, healthy = http_receiver, http_receiver2
    broken.status = 503
    broken.delay = 0.3
    failed_file = tmp_path / "failed.json"
    dispatcher = Dispatcher(
        [SlackChannel("broken", broken.url, timeout=2), SlackChannel("healthy", healthy.url)],
        RetryPolicy(attempts=3, backoff=0.05, retry_failed_every=3600),
        failed_path=failed_file,
    )
    try:
        dispatcher.submit(note())
        # Order, not wall-clock bounds (they flake on a loaded machine): the broken receiver records a
        # request only after answering (0.3 s each), so none recorded means submit did not wait for it...
        assert broken.requests == []
        assert wait_for(lambda: len(healthy.requests) == 1, 5)
        # ...and the healthy channel was served while the broken one was still being retried.
        assert len(broken.requests) < 3 and not dispatcher.failed
        assert wait_for(lambda: len(dispatcher.failed) == 1, 5)
        assert len(broken.requests) == 3
        # The failure is kept in memory first, then persisted by the same worker: wait for the file.
        assert wait_for(failed_file.exists, 5)
        kept = json.loads(failed_file.read_text())
        assert kept[0]["channel"] == "broken" and kept[0]["notification"]["fingerprint"] == "0123456789abcdef"
        broken.status, broken.delay = 202, 0.0
        assert dispatcher.retry_failed() == 1
        assert dispatcher.flush(5)
        assert len(broken.requests) == 4 and not dispatcher.failed
        assert json.loads(failed_file.read_text()) == []
    finally:
        dispatcher.close()


def test_failed_deliveries_survive_a_restart(http_receiver: HttpReceiver, tmp_path: Any) -> None:
    http_receiver.status = 500
    path = tmp_path / "failed.json"
    first = Dispatcher(
        [SlackChannel("s", http_receiver.url)], RetryPolicy(attempts=1, retry_failed_every=3600), path
    )
    first.submit(note())
    assert wait_for(lambda: len(first.failed) == 1)
    first.close()
    http_receiver.status = 202
    second = Dispatcher(
        [SlackChannel("s", http_receiver.url)], RetryPolicy(attempts=1, retry_failed_every=3600), path
    )
    try:
        assert len(second.failed) == 1 and second.retry_failed() == 1 and second.flush(5)
        assert http_receiver.bodies()[-1]["text"].startswith("[FIRING]")
    finally:
        second.close()


def test_severity_filters_route_pages_and_tickets(
    http_receiver: HttpReceiver, http_receiver2: HttpReceiver
) -> None:
    dispatcher = Dispatcher(
        [
            SlackChannel("pages", http_receiver.url, ("page",)),
            SlackChannel("tickets", http_receiver2.url, ("ticket",)),
        ]
    )
    try:
        dispatcher.submit(note(severity="page"))
        dispatcher.submit(note(severity="ticket"))
        dispatcher.submit(note(kind="test", severity="info"))  # a test reaches every channel
        assert dispatcher.flush(5)
        assert [b["text"][:20] for b in http_receiver.bodies()] == [
            "[FIRING] ApiBudgetBu",
            "[TEST] ApiBudgetBurn",
        ]
        assert len(http_receiver2.bodies()) == 2
        assert "(ticket)" in http_receiver2.bodies()[0]["text"]
    finally:
        dispatcher.close()
