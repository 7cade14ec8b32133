"""Notifications lost for good (a full channel queue) are said once on stderr and counted."""

from __future__ import annotations

import pytest

from otel_secretary._internal.self_monitoring import _forget_troubles_for_tests, dropped_counts
from otel_secretary.notify.channels import SlackChannel
from otel_secretary.notify.dispatcher import Dispatcher, RetryPolicy
from otel_secretary.testing.receivers import HttpReceiver

from .conftest import note


def test_a_full_channel_queue_is_said_once_and_counted(
    http_receiver: HttpReceiver, capsys: pytest.CaptureFixture[str]
) -> None:
    _forget_troubles_for_tests()
    before = dropped_counts().get(("notifications", "queue_full"), 0)
    http_receiver.delay = 1.0  # the worker is stuck on the first delivery
    dispatcher = Dispatcher([SlackChannel("slack", http_receiver.url)], RetryPolicy(queue_size=1))
    try:
        for _ in range(6):
            dispatcher.submit(note())
    finally:
        http_receiver.delay = 0.0
        dispatcher.flush(10)
        dispatcher.close()
    lost = dropped_counts().get(("notifications", "queue_full"), 0) - before
    assert lost == dispatcher.dropped >= 4
    delivered = len(http_receiver.requests)
    assert delivered + lost == 6
    said = [
        line for line in capsys.readouterr().err.splitlines() if "notifications dropped (queue_full)" in line
    ]
    assert len(said) == 1 and "channel slack" in said[0], said
