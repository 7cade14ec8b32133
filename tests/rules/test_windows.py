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
    # Only minutes that ended by `now` count: the one `now` falls in is still filling.
    lo = math.floor((now - window) / 60) * 60
    hi = math.floor(now / 60) * 60
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


@pytest.mark.parametrize("offset", [0.0, 0.0004, 0.5, 1.7, 30.0, 59.999])
def test_window_reads_the_minutes_that_ended_whatever_the_wake_up_offset(offset: float) -> None:
    """The evaluation thread wakes just after (or, on a slow machine, well after) each minute boundary."""
    ring = CountRing(60, 600)
    for minute in range(10):
        ring.add(minute * 60 + 10, (minute, 1))  # minute m holds m bad events out of 1
    now = 10 * 60 + offset  # minutes 0..9 have ended; minute 10 is (almost) empty
    assert ring.window(now, 60) == [9, 1]  # the last complete minute, not the empty current one
    assert ring.window(now, 300) == [5 + 6 + 7 + 8 + 9, 5]
    ring.add(now, (100, 1))  # an event of the running minute is not read until that minute ends
    assert ring.window(now, 60) == [9, 1]
    assert ring.window(11 * 60 + offset, 60) == [100, 1]


def test_window_just_before_a_boundary_does_not_read_the_running_minute() -> None:
    ring = CountRing(60, 600)
    ring.add(5 * 60 + 1, (1, 1))
    ring.add(6 * 60 - 0.001, (1, 1))
    assert ring.window(6 * 60 - 0.0005, 60) == [0, 0]  # minute 5 has not ended yet
    assert ring.window(6 * 60 + 0.0005, 60) == [2, 2]


def test_histogram_quantile_interpolates_like_prometheus() -> None:
    bounds = (0.1, 0.5, 1.0)
    assert histogram_quantile(0.5, bounds, [0, 10, 10, 10]) == pytest.approx(0.3)  # inside (0.1, 0.5]
    assert histogram_quantile(0.95, bounds, [0, 0, 0, 10]) == 1.0  # +Inf bucket: highest finite bound
    assert histogram_quantile(0.5, bounds, [0, 0, 0, 0]) is None


@settings(max_examples=100, deadline=None)
@given(events, st.sampled_from([60, 300, 1800, 3600]))
def test_events_added_out_of_order_sum_like_events_added_in_order(
    raw: list[tuple[float, int, int]], window: int
) -> None:
    """Counts read from several workers' files (or rebuilt after a restart) arrive out of order."""
    ordered, shuffled = CountRing(60, 3600), CountRing(60, 3600)
    for ts, bad, total in sorted(raw):
        ordered.add(ts, (bad, total))
    for ts, bad, total in sorted(raw, key=lambda e: (int(e[0]) * 7919) % 1000):
        shuffled.add(ts, (bad, total))
    last = max((ts for ts, _, _ in raw), default=0.0)
    for now in (last + 60, last + 61, last + 600):
        if ordered.window(now, window) != shuffled.window(now, window):
            # Only events older than what the ring holds may differ (clamped to its oldest bucket).
            assert max(ts for ts, _, _ in raw) - min(ts for ts, _, _ in raw) >= 3600


def test_pairs_read_every_window_as_window_does() -> None:
    """The one-call read used at evaluation agrees with :meth:`CountRing.window` on every window, including
    late adds, gaps longer than the ring, evaluation before the first and after the last bucket."""
    import random

    from otel_secretary.rules.windows import CountRing

    rng = random.Random(12)
    windows = (259200, 86400, 21600, 7200, 3600, 1800, 300, 60)
    for _ in range(30):
        ring = CountRing(60.0, 3 * 86400)
        minute = 1_000_000
        for _ in range(rng.randrange(1, 200)):
            minute += rng.choice((0, 1, 1, 2, 30, 600, 5000))
            late = minute - rng.choice((0, 0, 1, 5, 90))
            ring.add(late * 60 + rng.random() * 60, [float(rng.randrange(3)), float(rng.randrange(3, 9))])
            for now in (minute * 60 - 3600.5, minute * 60 + 0.25, minute * 60 + 61.0, minute * 60 + 9999.0):
                expected = [tuple(ring.window(now, w)) for w in windows]
                assert ring.pairs(now, windows) == expected
