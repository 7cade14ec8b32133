"""Real local receivers (the demo's own): an aiosmtpd SMTP server and an HTTP server recording requests."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from examples.ai_secretary.receivers import HttpReceiver, SmtpMailbox

__all__ = ["HttpReceiver", "SmtpMailbox", "wait_for"]


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


def wait_for(predicate: Any, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return False
