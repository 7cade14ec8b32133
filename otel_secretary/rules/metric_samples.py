"""Metric sampling for threshold and forecast rules: the last point of each gauge, recent samples of each
counter (and of each gauge a ``linear`` forecast fits a line through).

Gauges keep their newest point and go stale after Prometheus' 5-minute lookback; cumulative counters keep
enough samples for ``rate``/``increase`` over the rule's window (resets handled as PromQL does). Points are
grouped by the rule's ``by`` labels and aggregated (avg, max, min, sum) at evaluation. Per-instance labels
(a collector replica, a process) are not in ``by``, so their series are aggregated, never told apart.
Not thread-safe on its own: the engine holds its lock around :meth:`record` and :meth:`evaluate`.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from otel_secretary.rules import forecast, promql
from otel_secretary.rules.conditions import Result
from otel_secretary.rules.spec import RuleSpec, aggregate

#: Prometheus' lookback delta: a gauge point older than this is stale.
LOOKBACK_SECONDS = 300.0
_PointKey = tuple[str, ...]


def metric_by(spec: RuleSpec) -> tuple[str, ...]:
    """The labels a threshold rule's alerts carry: ``service_name`` when it names a service, then ``by``."""
    return (("service_name",) if spec.service else ()) + tuple(spec.by)


class MetricSamples:
    """Points of the threshold and forecast rules' metrics, bounded to ``max_series`` per rule."""

    def __init__(
        self,
        metric_specs: Sequence[RuleSpec],
        max_series: int,
        mask_labels: Callable[[Mapping[str, str], Sequence[str]], tuple[str, ...]],
    ) -> None:
        self.specs = list(metric_specs)
        self.max_series = max_series
        self._mask_labels = mask_labels
        self.gauges: dict[int, dict[_PointKey, tuple[float, float]]] = {}
        self.counters: dict[int, dict[_PointKey, deque[tuple[float, float]]]] = {}
        self.evicted = 0

    def match(self, name: str, attributes: Mapping[str, Any]) -> list[tuple[int, RuleSpec, _PointKey]]:
        """The rules a point of ``name`` feeds, with its key per rule (masked ``by`` values, point id).

        Called outside the engine's lock: masking may be slow.
        """
        found = []
        for index, spec in enumerate(self.specs):
            if spec.metric != name:
                continue
            labels = {promql.label_name(k): str(v) for k, v in attributes.items()}
            if labels.get(promql.OVERFLOW_LABEL) in ("True", "true"):  # as the PromQL leaves it out
                continue
            if any(labels.get(k) != v for k, v in spec.match.items()):
                continue
            if spec.service is not None and labels.get("service_name") != spec.service:
                continue
            found.append((index, spec, (*self._mask_labels(labels, metric_by(spec)), _point_id(labels))))
        return found

    def record(self, index: int, spec: RuleSpec, key: _PointKey, value: float, timestamp: float) -> None:
        if spec.function == "value" and spec.kind != "forecast":  # a forecast keeps samples to project
            gauges = self.gauges.setdefault(index, {})
            if key in gauges or len(gauges) < self.max_series:
                gauges[key] = (timestamp, value)
            else:
                self.evicted += 1
            return
        counters = self.counters.setdefault(index, {})
        if key not in counters and len(counters) >= self.max_series:
            self.evicted += 1
            return
        samples = counters.setdefault(key, deque(maxlen=max(8, int(spec.window // 15) + 4)))
        samples.append((timestamp, value))

    def evaluate(self, index: int, spec: RuleSpec, now: float) -> Iterator[Result]:
        """One condition per group of ``by`` values with a fresh point (or two samples of a counter)."""
        if spec.kind == "forecast":
            yield from forecast.evaluate_metric(
                spec, self.counters.get(index, {}), metric_by(spec), now, _compare
            )
            return
        groups: dict[tuple[str, ...], list[float]] = {}
        if spec.function == "value":
            for key, (timestamp, value) in self.gauges.get(index, {}).items():
                if now - timestamp <= LOOKBACK_SECONDS:
                    groups.setdefault(key[:-1], []).append(value)
        else:
            for key, samples in self.counters.get(index, {}).items():
                recent = [(t, v) for t, v in samples if now - spec.window <= t <= now]
                if len(recent) < 2:
                    continue
                increase = sum(
                    max(0.0, b[1] - a[1]) if b[1] >= a[1] else b[1] for a, b in itertools.pairwise(recent)
                )
                groups.setdefault(key[:-1], []).append(
                    increase
                    if spec.function == "increase"
                    else increase / max(1.0, recent[-1][0] - recent[0][0])
                )
        for key, values in groups.items():
            value = aggregate(spec.aggregate, values)
            if spec.invert:
                value = 1 - value
            condition = _compare(value, spec.op, spec.threshold)
            labels = dict(zip(metric_by(spec), key, strict=True))
            yield spec, spec.name, spec.severity, labels, condition, value

    def clear(self) -> None:
        self.gauges.clear()
        self.counters.clear()


def _point_id(labels: Mapping[str, str]) -> str:
    return "\x00".join(f"{k}={v}" for k, v in sorted(labels.items()))


def _compare(value: float, op: str, threshold: float) -> bool:
    return {
        ">": value > threshold,
        ">=": value >= threshold,
        "<": value < threshold,
        "<=": value <= threshold,
    }[op]
