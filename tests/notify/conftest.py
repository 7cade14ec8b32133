"""Real local receivers (the demo's own, from the test kit): an aiosmtpd SMTP server and an HTTP server
recording requests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from otel_secretary.rules.engine import Notification
from otel_secretary.testing.receivers import HttpReceiver, SmtpMailbox


@pytest.fixture
def http_receiver() -> Iterator[HttpReceiver]:
    receiver = HttpReceiver()
    yield receiver
    receiver.close()


@pytest.fixture
def http_receiver2() -> Iterator[HttpReceiver]:
    receiver = HttpReceiver()
    yield receiver
    receiver.close()


@pytest.fixture
def smtp_server() -> Iterator[SmtpMailbox]:
    with SmtpMailbox() as mailbox:
        yield mailbox


def note(kind: str = "trigger", severity: str = "page") -> Notification:
    """One synthetic notification, as every channel test sends it."""
    return Notification(
        kind=kind,
        alertname="ApiBudgetBurn",
        severity=severity,
        fingerprint="0123456789abcdef",
        labels={
            "alertname": "ApiBudgetBurn",
            "service_name": "ai-secretary",
            "span_name": "GET /x",
            "severity": severity,
            "rule": "Api",
        },
        annotations={
            "summary": "api <is> failing",
            "description": "errors",
            "runbook_url": "docs/runbooks/error-rate.md",
        },
        value=0.5,
        starts_at=1_700_000_000.0,
        at=1_700_000_060.0,
        ends_at=1_700_000_600.0 if kind == "resolve" else None,
    )
