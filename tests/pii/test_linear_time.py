"""No input makes the masker backtrack: 1 MB adversarial values are masked in time linear in their size.

Load-independent by construction: nothing is compared with a wall-clock bound. For each adversarial
shape the masker's own CPU time (``time.thread_time``: preemption by other processes on a shared box does
not count) at n = 256 KB and at 4n = 1 MB is measured in this process, interleaved (small, large, small,
large), keeping the fastest of each. Linear work gives a ratio of about 4; quadratic work gives 16 and
catastrophic backtracking gives astronomically more (the suite's timeout catches a run that never ends).
The bound of 8 is generous for noise yet far below quadratic growth.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from opentelemetry.sdk.metrics import MeterProvider

from otel_secretary.pii import Masker

MASKER = Masker(meter_provider=MeterProvider(), cache_size=0)
MB = 1_000_000
LINEAR_BOUND = 8.0  # linear: ~4; quadratic: 16

ADVERSARIAL: dict[str, Callable[[int], str]] = {
    "letters": lambda n: "a" * n,
    "at-signs": lambda n: "@" * n,
    "nested-dots": lambda n: "a." * (n // 2),
    "email-like-chain": lambda n: "x@a." + "a." * (n // 2),
    "at-runs": lambda n: "a@" * (n // 2),
    "digits": lambda n: "4" * n,
    "digits-spaces": lambda n: "1 " * (n // 2),
    "digits-dashes": lambda n: "1-" * (n // 2),
    "dotted-numbers": lambda n: "1." * (n // 2),
    "colons": lambda n: ":" * n,
    "hex-colons": lambda n: "ab:" * (n // 3),
    "equals": lambda n: "a=" * (n // 2),
    "bearer-runs": lambda n: "Bearer " * (n // 7),
    "json-keys": lambda n: '"password":"x",' * (n // 15),
    "placeholder-like": lambda n: "<email:" * (n // 7),
    "url-userinfo": lambda n: "://a:" * (n // 5),
    "percent-escapes": lambda n: "%2B1%20" * (n // 7),
    "name-cues": lambda n: "Hi Priya, " * (n // 10),
}


def _cpu_seconds(text: str) -> float:
    """CPU time of this thread only: other processes on a loaded box do not inflate it."""
    start = time.thread_time()
    MASKER.mask_text(text)
    return time.thread_time() - start


def growth_ratio(make: Callable[[int], str], n: int, rounds: int = 3) -> float:
    """Fastest CPU time at 4n over fastest at n, the two sizes measured alternately (three rounds: in a
    full run a collection of the suite's heap once landed in both 1 MB samples of two, 8.3x for 4.5x)."""
    small_text, large_text = make(n), make(4 * n)
    small = large = float("inf")
    for _ in range(rounds):
        small = min(small, _cpu_seconds(small_text))
        large = min(large, _cpu_seconds(large_text))
    return large / max(small, 1e-6)


@pytest.mark.parametrize("name", sorted(ADVERSARIAL))
def test_one_megabyte_costs_linear_time(name: str) -> None:
    """1 MB of each adversarial shape is masked (no hang) at about four times the cost of 256 KB."""
    ratio = growth_ratio(ADVERSARIAL[name], MB // 4)
    assert ratio < LINEAR_BOUND, f"{name}: 4x the input cost {ratio:.1f}x the CPU time"


def test_the_ratio_detects_quadratic_work() -> None:
    """The measure can fail: a deliberately quadratic function shows a ratio far above the bound."""

    def quadratic(text: str) -> None:
        for end in range(0, len(text), 10):
            text[:end].count("a")  # copies a prefix each step: O(n^2) in all

    small_text, large_text = "a" * 20_000, "a" * 80_000
    small = large = float("inf")
    for _ in range(2):
        start = time.thread_time()
        quadratic(small_text)
        small = min(small, time.thread_time() - start)
        start = time.thread_time()
        quadratic(large_text)
        large = min(large, time.thread_time() - start)
    assert large / max(small, 1e-6) > LINEAR_BOUND
