"""Waiting for something another thread or process does (a notification arriving, a file appearing).

Polls every 10 ms and answers whether it happened, so the caller's own assert says what was expected;
a test that only sleeps either flakes under load or wastes everyone's time.
"""

from __future__ import annotations

import time
from typing import Any


def wait_for(predicate: Any, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return False
