"""Sliding windows of event COUNTS in fixed time buckets, with O(1) window sums.

Each slot stores the running total at the end of its bucket (like a Prometheus counter sample), so a
window sum is one subtraction whatever its length: a 3-day window costs the same as a 5-minute one.
Ratios are always computed from summed counts, never averaged. Pure: no clock, no threads, no I/O.
"""

from __future__ import annotations

import math
from array import array


class CountRing:
    """Cumulative counts of ``width`` parallel counters (e.g. bad, total) over ``slots`` buckets."""

    __slots__ = ("_bucket", "_cum", "_first", "_head", "_slot_index", "_slots", "_totals", "width")

    def __init__(self, bucket_seconds: float, longest_window: float, width: int = 2) -> None:
        self._bucket = bucket_seconds
        self._slots = math.ceil(longest_window / bucket_seconds) + 2
        self.width = width
        self._cum = array("d", bytes(8 * self._slots * width))
        self._slot_index = array("q", [-1]) * self._slots
        self._totals = [0.0] * width
        self._head = -1
        self._first = -1

    @staticmethod
    def size_bytes(bucket_seconds: float, longest_window: float, width: int = 2) -> int:
        """Bytes of the arrays of a ring (cumulative doubles plus the slot index)."""
        slots = math.ceil(longest_window / bucket_seconds) + 2
        return slots * (8 * width + 8)

    @property
    def nbytes(self) -> int:
        return self._slots * (8 * self.width + 8)

    def _advance(self, index: int) -> None:
        # Fill skipped buckets with the running totals: a bucket without events adds nothing.
        start = max(self._head + 1, index - self._slots + 1)
        for bucket in range(start, index + 1):
            slot = bucket % self._slots
            self._slot_index[slot] = bucket
            base = slot * self.width
            for i in range(self.width):
                self._cum[base + i] = self._totals[i]
        self._head = index

    def add(self, timestamp: float, values: tuple[float, ...] | list[float]) -> None:
        """Count events at ``timestamp``.

        A late event (its bucket already passed, e.g. another worker's counts read a little later, or
        windows rebuilt from files after a restart) is added to its own bucket and every later one, so
        window sums stay exact; one older than the ring holds lands in the oldest bucket it still has.
        """
        index = int(timestamp // self._bucket)
        if self._first < 0:
            self._first = index
        if index > self._head:
            self._advance(index)
        if index < self._head:
            index = max(index, self._head - self._slots + 1)
            if index < self._first:
                self._first = index
            for bucket in range(index, self._head):
                base = (bucket % self._slots) * self.width
                if self._slot_index[bucket % self._slots] != bucket:
                    continue
                for i, value in enumerate(values):
                    self._cum[base + i] += value
        base = (self._head % self._slots) * self.width
        for i, value in enumerate(values):
            self._totals[i] += value
            self._cum[base + i] = self._totals[i]

    def _cumulative(self, bucket: int, i: int) -> float:
        if bucket >= self._head:
            return self._totals[i]
        if bucket < self._first:
            return 0.0
        slot = bucket % self._slots
        if self._slot_index[slot] != bucket:
            return 0.0  # older than the ring holds; the ring is sized so windows never reach here
        return self._cum[slot * self.width + i]

    def window(self, now: float, seconds: float) -> list[float]:
        """Sums over the ``seconds`` worth of buckets that ENDED at or before ``now``.

        A real evaluation thread wakes a little after each minute boundary: the bucket ``now`` falls in has
        barely begun, so it is left out and the last complete bucket is read instead. Reading the current,
        almost empty bucket (and dropping the last full one) is what kept a 1-minute rule from ever firing.
        """
        hi = math.floor(now / self._bucket) - 1
        lo = math.floor((now - seconds) / self._bucket)
        if self.width == 2:  # the common (bad, total) pair, unrolled: evaluation reads thousands
            return [
                self._cumulative(hi, 0) - self._cumulative(lo - 1, 0),
                self._cumulative(hi, 1) - self._cumulative(lo - 1, 1),
            ]
        return [self._cumulative(hi, i) - self._cumulative(lo - 1, i) for i in range(self.width)]

    def pairs(self, now: float, windows: tuple[int, ...] | list[int]) -> list[tuple[float, float]]:
        """(bad, total) over each of ``windows`` seconds, as :meth:`window` reads them, in one call.

        For the two-counter rings of ratio rules: the end of every window is the same bucket, so it is
        read once, and each window costs one slot lookup. Evaluation reads seven windows of an SLO series.
        """
        bucket = self._bucket
        head, first, slots = self._head, self._first, self._slots
        cum, index, totals = self._cum, self._slot_index, self._totals
        hi = math.floor(now / bucket) - 1
        if hi >= head:
            hb, ht = totals[0], totals[1]
        elif hi < first or index[hi % slots] != hi:
            hb = ht = 0.0
        else:
            slot = 2 * (hi % slots)
            hb, ht = cum[slot], cum[slot + 1]
        out = []
        for seconds in windows:
            lo = math.floor((now - seconds) / bucket) - 1
            if lo >= head:
                out.append((hb - totals[0], ht - totals[1]))
            elif lo < first or index[lo % slots] != lo:
                out.append((hb, ht))
            else:
                slot = 2 * (lo % slots)
                out.append((hb - cum[slot], ht - cum[slot + 1]))
        return out

    @property
    def volume(self) -> float:
        """Events ever counted (the last counter is the total: spans, or the +Inf bucket)."""
        return self._totals[-1]

    @property
    def last_bucket(self) -> int:
        return self._head


def histogram_quantile(q: float, bounds: tuple[float, ...], cumulative: list[float]) -> float | None:
    """Prometheus' histogram_quantile over cumulative bucket counts (last entry is +Inf); None if empty."""
    total = cumulative[-1]
    if total <= 0:
        return None
    rank = q * total
    for i, count in enumerate(cumulative):
        if count >= rank:
            if i == len(bounds):
                return bounds[-1]
            lower = bounds[i - 1] if i > 0 else 0.0
            below = cumulative[i - 1] if i > 0 else 0.0
            if count == below:
                return bounds[i]
            return lower + (bounds[i] - lower) * (rank - below) / (count - below)
    return bounds[-1]
