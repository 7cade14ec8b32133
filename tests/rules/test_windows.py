"""Count windows against a brute-force sum, and histogram_quantile against Prometheus' definition."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from otel_secretary.rules.windows import CountRing, histogram_quantile

events = st.lists(
    st.tuples(st.floats(0, 7200, allow_nan=False), st.integers(0, 5), st.integers(0, 5)), max_size=200
)


@settings(max_examples=150, deadline=None)
@given(events, st.sampled_from([60, 300, 1800, 3600]), st.floats(0, 9000, allow_nan=False))
def test_window_sum_equals_brute_force(raw: list[tuple[float, int, int]], window: int, now: float) -> None:
    ring = CountRing(60, 3600)
    ordered = sorted(raw)
    for ts, bad, total in ordered:
        ring.add(ts, (bad, total))
    # Bucket-aligned [now - w, now): an event counts when its minute starts inside the window.
    lo = math.ceil((now - window) / 60) * 60
    hi = math.ceil(now / 60) * 60
    expected = [
        sum(b for ts, b, _ in ordered if lo <= ts // 60 * 60 < hi),
        sum(t for ts, _, t in ordered if lo <= ts // 60 * 60 < hi),
    ]
    if not ordered or ordered[-1][0] // 60 * 60 < hi:  # events never reach into the future of `now`
        assert ring.window(now, window) == expected


def test_empty_window_is_zero_not_missing() -> None:
    ring = CountRing(60, 600)
    ring.add(30, (1, 4))
    assert ring.window(3600, 300) == [0, 0]
    assert ring.window(60, 300) == [1, 4]


def test_histogram_quantile_interpolates_like_prometheus() -> None:
    bounds = (0.1, 0.5, 1.0)
    assert histogram_quantile(0.5, bounds, [0, 10, 10, 10]) == pytest.approx(0.3)  # inside (0.1, 0.5]
    assert histogram_quantile(0.95, bounds, [0, 0, 0, 10]) == 1.0  # +Inf bucket: highest finite bound
    assert histogram_quantile(0.5, bounds, [0, 0, 0, 0]) is None
