"""Real local receivers (the demo's own, from the test kit): an aiosmtpd SMTP server and an HTTP server
recording requests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

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
