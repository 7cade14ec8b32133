"""Span series storage: which rules a span counts for, staged counts, and the bounded set of windows.

A span is routed once per (service, name, kind) to the span rules whose selector it matches; its outcome
is staged by minute and latency bucket (the hot path adds to one dict entry) and folded into one count
ring per (rule, label values) at evaluation. The number and bytes of rings are capped: at the cap the
series with the lowest volume goes first, and only for a newcomer that brings at least as many events,
so a scan of thousands of one-hit paths never evicts a route with real traffic.

Not thread-safe on its own: the engine calls it under its one lock (except :meth:`routes`, whose cache
is only ever replaced or extended with complete entries).
"""

from __future__ import annotations

import heapq
import itertools
import math
from bisect import bisect_left
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from otel_secretary.rules import promql
from otel_secretary.rules.spec import RuleSpec
from otel_secretary.rules.windows import CountRing

#: Latency boundaries (seconds) of quantile rules' histograms: the spanmetrics buckets.
LATENCY_BOUNDS = tuple(b / 1000 for b in promql.SPANMETRICS_BUCKETS_MS)

#: (rule index among span rules, label values in the rule's ``by`` order).
SeriesKey = tuple[int, tuple[str, ...]]
#: Counts that travel through the data folder: (minute, rule name, label values, counters).
CountRow = tuple[int, str, tuple[str, ...], list[float]]
_Staged = tuple[str, str, str, bool, int, int]


@dataclass
class SpanSeries:
    """One rule's windows for one set of label values."""

    ring: CountRing
    labels: dict[str, str]
    created: int = 0
    #: Fingerprints of every alert this series can raise (filled on first use; labels never change).
    fingerprints: tuple[str, ...] | None = None
    #: (alertname, severity) → full label set and fingerprint, filled on first use.
    identities: dict[tuple[str, str], tuple[dict[str, str], str]] = field(default_factory=dict)


class SeriesStore:
    """Routes, staged counts and the capped windows of the span rules."""

    def __init__(
        self,
        span_specs: Sequence[RuleSpec],
        *,
        bucket_seconds: float,
        max_series: int,
        max_series_bytes: int,
        mask: Callable[[str], str],
    ) -> None:
        self.specs = list(span_specs)
        self.bucket = bucket_seconds
        self.max_series = max_series
        self.max_series_bytes = max_series_bytes
        self._mask = mask
        self._route_cache: dict[tuple[str, str, str], list[tuple[int, tuple[str, ...]]]] = {}
        self.series: OrderedDict[SeriesKey, SpanSeries] = OrderedDict()
        self.staged: dict[_Staged, float] = {}
        #: False when counts travel through the data folder (:meth:`drain`/:meth:`ingest`): staged counts
        #: are then never folded into this process's windows directly.
        self.fold_staged = True
        self.drained: list[CountRow] = []
        # Latency boundaries: the spanmetrics buckets plus every latency threshold, so "slower than the
        # threshold" stays exact while spans are staged by bucket.
        thresholds = {s.latency_threshold for s in self.specs if s.latency_threshold > 0}
        self.bounds = tuple(sorted(set(LATENCY_BOUNDS) | thresholds))
        self.evicted = 0
        self.refused = 0
        self.bytes = 0
        self._created = itertools.count(1)
        # (volume when pushed, -creation number, key): the eviction candidate is the lowest volume,
        # newest first; entries go stale as volumes grow and are refreshed lazily.
        self._volumes: list[tuple[float, int, SeriesKey]] = []

    # ------------------------------------------------------------------ routing and staging

    def routes(self, service: str, name: str, kind: str) -> list[tuple[int, tuple[str, ...]]]:
        """The (rule index, label values) a span of this service, name and kind counts for; cached."""
        key = (service, name, kind)
        routes = self._route_cache.get(key)
        if routes is None:
            dims = {
                "service_name": self._mask(service),
                "span_name": self._mask(name),
                "span_kind": promql.SPAN_KIND_VALUES.get(kind, kind),
            }
            routes = [
                (i, tuple(dims.get(label, "") for label in spec.by))
                for i, spec in enumerate(self.specs)
                if spec.selector.matches(service, name, kind)
            ]
            if len(self._route_cache) > 10_000:
                self._route_cache.clear()  # bounded: span names are templated, but never trust that
            self._route_cache[key] = routes
        return routes

    def stage_key(
        self, service: str, name: str, kind: str, error: bool, duration: float, timestamp: float
    ) -> _Staged:
        return (
            service,
            name,
            kind,
            error,
            bisect_left(self.bounds, duration - 1e-12),
            int(timestamp // self.bucket),
        )

    def stage(self, key: _Staged, count: float) -> None:
        """Add to the staged counts; a full stage is folded in (or set aside for the data folder)."""
        self.staged[key] = self.staged.get(key, 0.0) + count
        if len(self.staged) >= 4096:
            self.stage_full()

    def stage_full(self) -> None:
        """The stage is full: fold it in, or set it aside for the data folder."""
        if self.fold_staged:
            self.flush()
        else:
            self.drained.extend(self._drain_staged())

    def flush(self) -> None:
        """Fold the staged counts into the windows (nothing when counts go through the data folder)."""
        if not self.fold_staged:
            return
        staged, self.staged = self.staged, {}
        for (service, name, kind, error, bucket, minute), count in staged.items():
            for index, key in self.routes(service, name, kind):
                spec = self.specs[index]
                series = self.series_for(index, key, spec, count)
                if series is not None:
                    series.ring.add(minute * self.bucket, self._values(spec, error, bucket, count))

    def forget_staged(self) -> None:
        """Drop staged counts (a forked child: its parent writes the counts it saw)."""
        self.staged, self.drained = {}, []

    def _values(self, spec: RuleSpec, error: bool, bucket: int, count: float) -> list[float]:
        # ``bucket`` indexes self.bounds: the span took at most bounds[bucket] (len(bounds) = beyond all).
        upper = self.bounds[bucket] if bucket < len(self.bounds) else math.inf
        if spec.kind == "latency" and spec.quantile is not None:
            # Cumulative histogram counts per boundary (+Inf last), as Prometheus buckets are.
            return [count if upper <= b else 0.0 for b in LATENCY_BOUNDS] + [count]
        if spec.kind == "latency" or (spec.kind == "slo" and spec.sli == "latency"):
            bad = upper > spec.latency_threshold
        else:
            bad = error
        return [count if bad else 0.0, count]

    # ------------------------------------------------------------------ the capped set of series

    def series_for(
        self, index: int, key: tuple[str, ...], spec: RuleSpec, incoming: float = 1.0
    ) -> SpanSeries | None:
        """The series for ``key``, created if there is room; None if the cap refuses it.

        At the cap, the series with the lowest volume (events ever counted; the newest among equals) is
        evicted, but only for a newcomer bringing at least as many events: a scan of thousands of
        one-hit paths churns among its own junk and never evicts a route that carries real traffic.
        """
        series_key = (index, key)
        series = self.series.get(series_key)
        if series is not None:
            return series
        width = len(LATENCY_BOUNDS) + 1 if spec.kind == "latency" and spec.quantile is not None else 2
        size = CountRing.size_bytes(self.bucket, max(spec.windows), width)
        while len(self.series) >= self.max_series or self.bytes + size > self.max_series_bytes:
            if not self._evict_for(incoming):
                self.refused += 1
                return None
        ring = CountRing(self.bucket, max(spec.windows), width)
        series = SpanSeries(ring, dict(zip(spec.by, key, strict=True)), next(self._created))
        self.series[series_key] = series
        self.bytes += size
        heapq.heappush(self._volumes, (0.0, -series.created, series_key))
        return series

    def _evict_for(self, incoming: float) -> bool:
        """Evict the lowest-volume series if it has no more events than ``incoming``; lazy heap."""
        while self._volumes:
            volume, negative_created, series_key = self._volumes[0]
            series = self.series.get(series_key)
            if series is None or series.created != -negative_created:
                heapq.heappop(self._volumes)  # evicted earlier, or re-created since
                continue
            current = series.ring.volume
            if current != volume:
                heapq.heapreplace(self._volumes, (current, negative_created, series_key))
                continue
            if volume > incoming:
                return False
            heapq.heappop(self._volumes)
            del self.series[series_key]
            self.bytes -= series.ring.nbytes
            self.evicted += 1
            return True
        return False

    def clear(self) -> None:
        """Forget every window (a new evaluator rebuilds them from the count files)."""
        self.series.clear()
        self._volumes.clear()
        self.bytes = 0

    # ---------------------------------------------------------------- shared counts (files, workers)

    def drain(self) -> list[CountRow]:
        rows = self.drained + self._drain_staged()
        self.drained = []
        return rows

    def _drain_staged(self) -> list[CountRow]:
        staged, self.staged = self.staged, {}
        merged: dict[tuple[int, str, tuple[str, ...]], list[float]] = {}
        for (service, name, kind, error, bucket, minute), count in staged.items():
            for index, key in self.routes(service, name, kind):
                spec = self.specs[index]
                values = self._values(spec, error, bucket, count)
                slot = (minute, spec.name, key)
                if slot in merged:
                    merged[slot] = [a + b for a, b in zip(merged[slot], values, strict=True)]
                else:
                    merged[slot] = values
        return [(minute, rule, key, values) for (minute, rule, key), values in merged.items()]

    def ingest(self, rows: Iterable[tuple[int, str, Sequence[str], Sequence[float]]]) -> int:
        """Fold rows written by :meth:`drain` (any process) into the windows; returns rows taken.

        Rows for rules this store does not know, or of the wrong width (a spec changed), are skipped.
        """
        by_name = {spec.name: i for i, spec in enumerate(self.specs)}
        taken = 0
        for minute, rule, key, values in sorted(rows, key=lambda r: r[0]):
            index = by_name.get(rule)
            if index is None:
                continue
            spec = self.specs[index]
            if len(key) != len(spec.by):
                continue
            series = self.series_for(index, tuple(key), spec, values[-1] if values else 0.0)
            if series is None or len(values) != series.ring.width:
                continue
            series.ring.add(minute * self.bucket, list(values))
            taken += 1
        return taken
