"""The in-process rule engine: evaluates specs over observed span outcomes and metric points.

Pure core: time comes from the caller (timestamps on input, ``now`` on evaluation), so tests replay days
of traffic in seconds. Lifecycle follows Prometheus 2.42 (inactive → pending → firing → inactive with
``for`` and ``keep_firing_for``); notification follows Alertmanager ideas (fingerprint dedup, repeat
interval, silences, inhibition of tickets by pages) plus acknowledgement, a no-data hold and a flap guard.
It never does I/O and never raises into the caller's hot path.
"""

from __future__ import annotations

import heapq
import itertools
import math
import re
import threading
import uuid
from bisect import bisect_left
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from otel_secretary import pii
from otel_secretary.pii import Masker
from otel_secretary.rules import forecast, promql
from otel_secretary.rules.model import (
    AlertInstance,
    AlertState,
    Matcher,
    Notification,
    NotificationKind,
    Silence,
    fingerprint,
)
from otel_secretary.rules.spec import BurnTier, Routing, RuleSpec
from otel_secretary.rules.windows import CountRing, histogram_quantile

__all__ = [
    "AlertInstance",
    "AlertState",
    "EngineOptions",
    "Matcher",
    "Notification",
    "NotificationKind",
    "RuleEngine",
    "Silence",
    "fingerprint",
    "severity_state",
    "tier_state",
]

LATENCY_BOUNDS = tuple(b / 1000 for b in promql.SPANMETRICS_BUCKETS_MS)
SOURCE = "embedded"


@dataclass
class _Series:
    ring: CountRing
    labels: dict[str, str]
    created: int = 0
    fingerprints: tuple[str, ...] | None = None


@dataclass(frozen=True)
class EngineOptions:
    bucket_seconds: float = 60.0
    max_series: int = 2000
    # Memory of the windows: a 3-day SLO series holds 4,322 one-minute slots (~104 kB), so 2,000 of them
    # would take 210 MB; the byte budget evicts (lowest volume first) before that.
    max_series_bytes: int = 64 * 1024 * 1024
    repeat_interval: float = 4 * 3600.0
    resolved_retention: float = 15 * 60.0
    # Flap guard (Nagios/Kibana style): this many state changes within the window mutes changes
    # until the alert has been stable for a whole window.
    flap_changes: int = 4
    flap_window: float = 20 * 60.0


_Sink = Callable[[Notification], None]


class RuleEngine:
    """Evaluate specs in process. Thread-safe: observations and evaluation share one lock."""

    def __init__(
        self,
        specs: Sequence[RuleSpec],
        options: EngineOptions | None = None,
        sink: _Sink | None = None,
        masker: Masker | None = None,
        routing: Routing | None = None,
    ):
        self.specs = list(specs)
        self.routing = routing
        # Label values come from raw span names and metric attributes (the engine sees spans before the
        # exporters mask them): they are masked once, when a route or a metric series is first seen.
        self.masker = masker
        self.options = options or EngineOptions()
        self.sink: _Sink = sink or (lambda _n: None)
        self._lock = threading.Lock()
        self._spec_by_name = {s.name: s for s in self.specs}
        self._metric_specs = [s for s in self.specs if s.kind == "threshold" or forecast.on_metrics(s)]
        self._span_specs = [s for s in self.specs if s not in self._metric_specs]
        self._route_cache: dict[tuple[str, str, str], list[tuple[int, tuple[str, ...]]]] = {}
        self._series: OrderedDict[tuple[int, tuple[str, ...]], _Series] = OrderedDict()
        self._staged: dict[tuple[str, str, str, bool, int, int], float] = {}
        #: False when counts travel through the data folder (:meth:`drain`/:meth:`ingest`): staged counts
        #: are then never folded into this process's windows directly.
        self.fold_staged = True
        self._drained: list[tuple[int, str, tuple[str, ...], list[float]]] = []
        self._bucket = self.options.bucket_seconds
        # Latency boundaries: the spanmetrics buckets plus every latency threshold, so "slower than the
        # threshold" stays exact while spans are staged by bucket.
        thresholds = {s.latency_threshold for s in self._span_specs if s.latency_threshold > 0}
        self._bounds = tuple(sorted(set(LATENCY_BOUNDS) | thresholds))
        self._gauges: dict[int, dict[tuple[str, ...], tuple[float, float]]] = {}
        self._counters: dict[int, dict[tuple[str, ...], deque[tuple[float, float]]]] = {}
        self.alerts: dict[str, AlertInstance] = {}
        self.silences: dict[str, Silence] = {}
        self.evicted_series = 0
        self.refused_series = 0
        self._series_bytes = 0
        self._identities: dict[
            tuple[str, str, str, tuple[tuple[str, str], ...]], tuple[dict[str, str], str]
        ] = {}
        self._created = itertools.count(1)
        # (volume when pushed, -creation number, key): the eviction candidate is the lowest volume,
        # newest first; entries go stale as volumes grow and are refreshed lazily.
        self._volumes: list[tuple[float, int, tuple[int, tuple[str, ...]]]] = []
        self.errors = 0
        self.last_evaluation: float | None = None

    # ------------------------------------------------------------------ observation (hot path)

    def _routes(self, service: str, name: str, kind: str) -> list[tuple[int, tuple[str, ...]]]:
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
                for i, spec in enumerate(self._span_specs)
                if spec.selector.matches(service, name, kind)
            ]
            if len(self._route_cache) > 10_000:
                self._route_cache.clear()  # bounded: span names are templated, but never trust that
            self._route_cache[key] = routes
        return routes

    def _mask(self, text: str) -> str:
        try:
            return self.masker.mask_text(text) if self.masker is not None else pii.mask_text(text)
        except Exception:
            return "<redacted>"  # fail closed

    def _masked_labels(self, labels: Mapping[str, str], keys: Sequence[str]) -> tuple[str, ...]:
        out = []
        for key in keys:
            value = labels.get(key, "")
            try:
                masked = (
                    self.masker.mask_value(key, value)
                    if self.masker is not None
                    else pii.mask_attributes({key: value})[key]
                )
            except Exception:
                masked = "<redacted>"
            out.append(str(masked))
        return tuple(out)

    def observe_span(
        self,
        service: str,
        name: str,
        kind: str,
        error: bool,
        duration: float,
        timestamp: float,
        count: float = 1.0,
    ) -> None:
        """Count one ended span (``kind`` as in specs: server, client …; ``duration`` in seconds).

        Hot path: one cached route lookup and one staged-counter increment. Staged counts (keyed by minute,
        outcome and latency bucket) are folded into the windows at evaluation, or when the stage is full.
        """
        if not self._routes(service, name, kind):
            return
        key = (
            service,
            name,
            kind,
            error,
            bisect_left(self._bounds, duration - 1e-12),
            int(timestamp // self._bucket),
        )
        with self._lock:
            self._staged[key] = self._staged.get(key, 0.0) + count
            if len(self._staged) >= 4096:
                if self.fold_staged:
                    self._flush()
                else:
                    self._drained.extend(self._drain_locked())

    def _flush(self) -> None:
        if not self.fold_staged:
            return
        staged, self._staged = self._staged, {}
        for (service, name, kind, error, bucket, minute), count in staged.items():
            for index, key in self._routes(service, name, kind):
                spec = self._span_specs[index]
                series = self._series_for(index, key, spec, count)
                if series is not None:
                    series.ring.add(minute * self._bucket, self._values(spec, error, bucket, count))

    def _values(self, spec: RuleSpec, error: bool, bucket: int, count: float) -> list[float]:
        # ``bucket`` indexes self._bounds: the span took at most _bounds[bucket] (len(_bounds) = beyond all).
        upper = self._bounds[bucket] if bucket < len(self._bounds) else math.inf
        if spec.kind == "latency" and spec.quantile is not None:
            # Cumulative histogram counts per boundary (+Inf last), as Prometheus buckets are.
            return [count if upper <= b else 0.0 for b in LATENCY_BOUNDS] + [count]
        if spec.kind == "latency" or (spec.kind == "slo" and spec.sli == "latency"):
            bad = upper > spec.latency_threshold
        else:
            bad = error
        return [count if bad else 0.0, count]

    def _series_for(
        self, index: int, key: tuple[str, ...], spec: RuleSpec, incoming: float = 1.0
    ) -> _Series | None:
        """The series for ``key``, created if there is room; None if the cap refuses it.

        At the cap, the series with the lowest volume (events ever counted; the newest among equals) is
        evicted, but only for a newcomer bringing at least as many events: a scan of thousands of
        one-hit paths churns among its own junk and never evicts a route that carries real traffic.
        """
        series_key = (index, key)
        series = self._series.get(series_key)
        if series is not None:
            return series
        width = len(LATENCY_BOUNDS) + 1 if spec.kind == "latency" and spec.quantile is not None else 2
        size = CountRing.size_bytes(self.options.bucket_seconds, max(spec.windows), width)
        while (
            len(self._series) >= self.options.max_series
            or self._series_bytes + size > self.options.max_series_bytes
        ):
            if not self._evict_for(incoming):
                self.refused_series += 1
                return None
        ring = CountRing(self.options.bucket_seconds, max(spec.windows), width)
        series = _Series(ring, dict(zip(spec.by, key, strict=True)), next(self._created))
        self._series[series_key] = series
        self._series_bytes += size
        heapq.heappush(self._volumes, (0.0, -series.created, series_key))
        return series

    def _evict_for(self, incoming: float) -> bool:
        """Evict the lowest-volume series if it has no more events than ``incoming``; lazy heap."""
        while self._volumes:
            volume, negative_created, series_key = self._volumes[0]
            series = self._series.get(series_key)
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
            del self._series[series_key]
            self._series_bytes -= series.ring.nbytes
            self.evicted_series += 1
            return True
        return False

    def observe_metric(
        self,
        name: str,
        attributes: Mapping[str, Any],
        value: float,
        timestamp: float,
        *,
        monotonic: bool = False,
    ) -> None:
        """One metric point (OTel name, attributes); cumulative sums are kept as samples for rate/increase."""
        for index, spec in enumerate(self._metric_specs):
            if spec.metric != name:
                continue
            labels = {promql.label_name(k): str(v) for k, v in attributes.items()}
            if any(labels.get(k) != v for k, v in spec.match.items()):
                continue
            if spec.service is not None and labels.get("service_name") != spec.service:
                continue
            key = (*self._masked_labels(labels, _metric_by(spec)), _point_id(labels))
            with self._lock:
                if spec.function == "value" and spec.kind != "forecast":  # forecasts keep samples
                    gauges = self._gauges.setdefault(index, {})
                    if key in gauges or len(gauges) < self.options.max_series:
                        gauges[key] = (timestamp, value)
                    else:
                        self.evicted_series += 1
                else:
                    counters = self._counters.setdefault(index, {})
                    if key not in counters and len(counters) >= self.options.max_series:
                        self.evicted_series += 1
                        continue
                    samples = counters.setdefault(key, deque(maxlen=max(8, int(spec.window // 15) + 4)))
                    samples.append((timestamp, value))

    # ---------------------------------------------------------------- shared counts (files, workers)

    def drain(self) -> list[tuple[int, str, tuple[str, ...], list[float]]]:
        r"""Take the staged span counts as (minute, rule, series key, values) instead of folding them in.

        Used when counts travel through the data folder: every process writes what it saw, and the
        evaluating process :meth:`ingest`\ s everyone's (its own included) into its windows.
        """
        with self._lock:
            rows = self._drained + self._drain_locked()
            self._drained = []
        return rows

    def _drain_locked(self) -> list[tuple[int, str, tuple[str, ...], list[float]]]:
        staged, self._staged = self._staged, {}
        merged: dict[tuple[int, str, tuple[str, ...]], list[float]] = {}
        for (service, name, kind, error, bucket, minute), count in staged.items():
            for index, key in self._routes(service, name, kind):
                spec = self._span_specs[index]
                values = self._values(spec, error, bucket, count)
                slot = (minute, spec.name, key)
                if slot in merged:
                    merged[slot] = [a + b for a, b in zip(merged[slot], values, strict=True)]
                else:
                    merged[slot] = values
        return [(minute, rule, key, values) for (minute, rule, key), values in merged.items()]

    def ingest(self, rows: Iterable[tuple[int, str, Sequence[str], Sequence[float]]]) -> int:
        """Fold counts written by :meth:`drain` (any process) into the windows; returns rows taken.

        Rows for rules this engine does not know, or of the wrong width (a spec changed), are skipped.
        """
        by_name = {spec.name: i for i, spec in enumerate(self._span_specs)}
        taken = 0
        with self._lock:
            for minute, rule, key, values in sorted(rows, key=lambda r: r[0]):
                index = by_name.get(rule)
                if index is None:
                    continue
                spec = self._span_specs[index]
                if len(key) != len(spec.by):
                    continue
                series = self._series_for(index, tuple(key), spec, values[-1] if values else 0.0)
                if series is None or len(values) != series.ring.width:
                    continue
                series.ring.add(minute * self._bucket, list(values))
                taken += 1
        return taken

    def export_alerts(self) -> list[dict[str, Any]]:
        """Every alert the engine remembers (pending, firing, resolved but still within retention)."""
        with self._lock:
            return [a.to_json() for a in self.alerts.values()]

    def restore_alerts(self, alerts: Iterable[Mapping[str, Any]]) -> int:
        """Take alerts persisted by a previous process: their ``for`` state, what was notified, acks.

        Alerts of rules that no longer exist are dropped; the rest continue as if there had been no
        restart (a firing alert already notified is not triggered again, its resolve will be sent).
        """
        names = {spec.name for spec in self.specs}
        restored = 0
        with self._lock:
            for raw in alerts:
                try:
                    alert = AlertInstance.from_json(raw)
                except (KeyError, TypeError, ValueError, AttributeError):
                    continue
                if alert.labels.get("rule") not in names:
                    continue
                self.alerts[alert.fingerprint] = alert
                restored += 1
        return restored

    # ------------------------------------------------------------------------------ evaluation

    def evaluate(self, now: float) -> list[Notification]:
        """Evaluate every rule at ``now``, advance lifecycles, and send what changed; returns it too."""
        sent: list[Notification] = []
        with self._lock:
            self._flush()
            results: list[tuple[RuleSpec, str, str, dict[str, str], bool | None, float | None]] = []
            for (index, _key), series in list(self._series.items()):
                spec = self._span_specs[index]
                if self._quiet(spec, series, now):
                    continue
                results.extend(self._evaluate_span(spec, series, now))
            for index, spec in enumerate(self._metric_specs):
                results.extend(self._evaluate_metric(index, spec, now))
            seen: set[str] = set()
            for spec, alertname, severity, labels, condition, value in results:
                full, fp = self._identity(spec, alertname, severity, labels)
                seen.add(fp)
                self._step(spec, fp, alertname, severity, dict(full), condition, value, now)
            for fp, alert in list(self.alerts.items()):
                if fp not in seen and alert.state != "inactive":
                    spec = next(s for s in self.specs if s.name == alert.labels.get("rule"))
                    # A series with no window at all (not rebuilt yet after a restart) is undefined, not
                    # healthy: its firing span alert is held like a 0/0 window, for at most the rule's
                    # longest window; a series that never comes back then resolves.
                    held = alert.held_since is not None and now - alert.held_since > max(spec.windows)
                    no_data = alert.alertname.endswith("NoData")  # an evicted series is not a silent one
                    on_metrics = spec.kind == "threshold" or forecast.on_metrics(spec)
                    unseen: bool | None = None if not on_metrics and not held else False
                    if no_data:
                        unseen = False
                    self._step(spec, fp, alert.alertname, alert.severity, alert.labels, unseen, None, now)
            for alert in self._ordered_alerts():
                sent.extend(self._reconcile(alert, now))
            self._forget(now)
            self.last_evaluation = now
        for notification in sent:
            try:
                self.sink(notification)
            except Exception:  # a broken sink must not stop evaluation
                self.errors += 1
        return sent

    def _identity(
        self, spec: RuleSpec, alertname: str, severity: str, labels: Mapping[str, str]
    ) -> tuple[dict[str, str], str]:
        """Full label set and fingerprint of one alert, cached (labels of a series never change)."""
        key = (spec.name, alertname, severity, tuple(labels.items()))
        cached = self._identities.get(key)
        if cached is None:
            full = {"alertname": alertname, **labels, "rule": spec.name, "source": SOURCE}
            full.update({"severity": severity, **spec.labels})
            if len(self._identities) > 100_000:
                self._identities.clear()
            cached = self._identities[key] = (full, fingerprint(full))
        return cached

    def _quiet(self, spec: RuleSpec, series: _Series, now: float) -> bool:
        """True when this series cannot change any alert now, so evaluating it can be skipped.

        That is: no alert of the series exists (nothing to hold or resolve), no bad event in its longest
        window (nothing can start firing) and, for no-data rules, events in the no-data window. Most
        series of a healthy service are quiet: evaluation then costs one window read per series.
        """
        if spec.kind == "latency" and spec.quantile is not None:
            return False
        ring = series.ring
        longest = max(spec.windows)
        bad, seen = ring.window(now, longest)
        if bad > 0:
            return False
        if (
            spec.no_data_for
            and ring.window(now, spec.no_data_for)[1] == 0
            and _had_volume(spec, seen, longest)
        ):
            return False
        if series.fingerprints is None:
            names = [(n, s) for n in spec.alert_names for s in _severities(spec, n)]
            series.fingerprints = tuple(self._identity(spec, n, s, series.labels)[1] for n, s in names)
        return not any(fp in self.alerts for fp in series.fingerprints)

    def _evaluate_span(
        self, spec: RuleSpec, series: _Series, now: float
    ) -> Iterable[tuple[RuleSpec, str, str, dict[str, str], bool | None, float | None]]:
        ring = series.ring
        labels = series.labels

        def ratio(window: int) -> tuple[float | None, float]:
            bad, total = ring.window(now, window)
            return (bad / total if total > 0 else None), total / window

        def guard(window: int) -> bool:
            return spec.min_rate <= 0 or ratio(window)[1] >= spec.min_rate

        if spec.kind == "forecast":
            yield from forecast.evaluate_span(spec, labels, ratio)
            return
        if spec.kind == "latency" and spec.quantile is not None:
            counts = ring.window(now, spec.window)
            value = histogram_quantile(spec.quantile, LATENCY_BOUNDS, counts)
            condition = None if value is None else value > spec.latency_threshold
            yield spec, spec.name, spec.severity, labels, condition, value
            return
        if spec.kind in ("error_rate", "latency"):
            value, _rate = ratio(spec.window)
            condition = None if value is None else (value > spec.threshold and guard(spec.window))
            yield spec, spec.name, spec.severity, labels, condition, value
            return
        for severity in ("page", "ticket"):
            tiers = [t for t in spec.tiers if t.severity == severity]
            if not tiers:
                continue
            burning, value = severity_state(
                [tier_state(spec, tier, ratio(tier.long), ratio(tier.short)) for tier in tiers]
            )
            yield spec, f"{spec.name}BudgetBurn", severity, labels, burning, value
        if spec.no_data_for:
            _bad, total = ring.window(now, spec.no_data_for)
            longest = max(spec.windows)
            _bad, seen = ring.window(now, longest)
            had_volume = _had_volume(spec, seen, longest)
            yield spec, f"{spec.name}NoData", spec.no_data_severity, labels, total == 0 and had_volume, total

    def _evaluate_metric(
        self, index: int, spec: RuleSpec, now: float
    ) -> Iterable[tuple[RuleSpec, str, str, dict[str, str], bool | None, float | None]]:
        if spec.kind == "forecast":
            yield from forecast.evaluate_metric(
                spec, self._counters.get(index, {}), _metric_by(spec), now, _compare
            )
            return
        groups: dict[tuple[str, ...], list[float]] = {}
        if spec.function == "value":
            for key, (timestamp, value) in self._gauges.get(index, {}).items():
                if now - timestamp <= 300:  # Prometheus' lookback delta: older points are stale
                    groups.setdefault(key[:-1], []).append(value)
        else:
            for key, samples in self._counters.get(index, {}).items():
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
            aggregate = {
                "avg": sum(values) / len(values),
                "max": max(values),
                "min": min(values),
                "sum": sum(values),
            }[spec.aggregate]
            if spec.invert:
                aggregate = 1 - aggregate
            condition = _compare(aggregate, spec.op, spec.threshold)
            labels = dict(zip(_metric_by(spec), key, strict=True))
            yield spec, spec.name, spec.severity, labels, condition, aggregate

    def _step(
        self,
        spec: RuleSpec,
        fp: str,
        alertname: str,
        severity: str,
        labels: dict[str, str],
        condition: bool | None,
        value: float | None,
        now: float,
    ) -> None:
        alert = self.alerts.get(fp)
        if alert is None:
            if not condition:
                return
            annotations = {k: self._mask(_expand(v, labels)) for k, v in spec.annotations.items()}
            alert = AlertInstance(alertname, labels, annotations, fp, severity)
            self.alerts[fp] = alert
        alert.no_data = condition is None
        if condition is not None:
            alert.held_since = None
        elif alert.held_since is None:
            alert.held_since = now
        if condition is None:
            # Undefined holds the state (pending stays pending, firing stays firing). A held firing alert
            # counts as still true for keep_firing_for, as Prometheus' hold expression does.
            if alert.state == "firing":
                alert.keep_firing_since = None
            return
        if condition:
            alert.value = value
            alert.keep_firing_since = None
            if alert.state == "inactive":
                alert.state, alert.active_at, alert.resolved_at = "pending", now, None
            for_ = 0 if alertname.endswith("NoData") else spec.for_  # as rendered: NoData takes no for
            if alert.state == "pending" and now - alert.active_at >= for_:
                alert.state, alert.fired_at = "firing", now
                alert.transitions.append(now)
            return
        if alert.state == "pending":
            alert.state = "inactive"
            return
        if alert.state == "firing":
            if spec.keep_firing_for:
                if alert.keep_firing_since is None:
                    alert.keep_firing_since = now
                if now - alert.keep_firing_since < spec.keep_firing_for:
                    return
            alert.state, alert.resolved_at, alert.keep_firing_since = "inactive", now, None
            alert.transitions.append(now)

    def _ordered_alerts(self) -> list[AlertInstance]:
        # Pages first, so inhibition of tickets sees this evaluation's pages.
        return sorted(self.alerts.values(), key=lambda a: (a.severity != "page", a.fingerprint))

    def _inhibitor(self, alert: AlertInstance) -> AlertInstance | None:
        if self.routing is not None and self.routing.inhibit is not None:
            for rule in self.routing.inhibit:
                if alert.severity != rule.target:
                    continue
                key = tuple(alert.labels.get(name, "") for name in rule.equal)
                for other in self.alerts.values():
                    equal = tuple(other.labels.get(name, "") for name in rule.equal) == key
                    if other.severity == rule.source and other.state == "firing" and equal:
                        return other
            return None
        if alert.severity != "ticket":
            return None
        same = _without_severity(alert.labels)
        for other in self.alerts.values():
            is_page = other.severity == "page" and other.state == "firing"
            if is_page and _without_severity(other.labels) == same:
                return other
        return None

    def _reconcile(self, alert: AlertInstance, now: float) -> list[Notification]:
        options = self.options
        recent = [t for t in alert.transitions if now - t < options.flap_window]
        if len(recent) >= options.flap_changes:
            alert.flapping = True
        elif alert.flapping and not recent:
            alert.flapping = False
        silence = next((s for s in self.silences.values() if s.active(now) and s.matches(alert.labels)), None)
        inhibitor = self._inhibitor(alert)
        alert.suppressed_by = (
            f"silence:{silence.id}" if silence else f"inhibited:{inhibitor.fingerprint}" if inhibitor else ""
        )
        if alert.flapping and not alert.suppressed_by:
            alert.suppressed_by = "flapping"
        if alert.suppressed_by:
            return []
        if alert.state == "firing":
            if alert.notified != "firing":
                alert.notified, alert.last_sent = "firing", now
                return [self._notification("trigger", alert, now)]
            repeat = options.repeat_interval
            if self.routing is not None:
                repeat = self.routing.repeat_interval.get(alert.severity, repeat)
            if not alert.acked and now - alert.last_sent >= repeat:
                alert.last_sent = now
                return [self._notification("reminder", alert, now)]
            return []
        if alert.state == "inactive" and alert.notified == "firing":
            alert.notified, alert.last_sent, alert.acked = "resolved", now, False
            spec = self._spec_by_name.get(alert.labels.get("rule", ""))
            if spec is not None and not spec.send_resolved:
                return []  # the rule asked for no resolve message (the alert is still closed)
            return [self._notification("resolve", alert, now)]
        return []

    def _notification(self, kind: NotificationKind, alert: AlertInstance, now: float) -> Notification:
        return Notification(
            kind=kind,
            alertname=alert.alertname,
            severity=alert.severity,
            fingerprint=alert.fingerprint,
            labels=dict(alert.labels),
            annotations=dict(alert.annotations),
            value=alert.value,
            starts_at=alert.fired_at,
            at=now,
            ends_at=alert.resolved_at if kind == "resolve" else None,
        )

    def _forget(self, now: float) -> None:
        for fp, alert in list(self.alerts.items()):
            if alert.state == "inactive" and alert.notified != "firing":
                retention = max(self.options.resolved_retention, self.options.flap_window)
                done = alert.resolved_at is None or now - alert.resolved_at > retention
                if done and not alert.flapping:
                    del self.alerts[fp]
        for sid, silence in list(self.silences.items()):
            if now - silence.ends_at > 86400:
                del self.silences[sid]

    # --------------------------------------------------------------------------- operations

    def add_silence(
        self,
        matchers: Sequence[Matcher],
        starts_at: float,
        ends_at: float,
        created_by: str = "",
        comment: str = "",
    ) -> str:
        silence = Silence(uuid.uuid4().hex, tuple(matchers), starts_at, ends_at, created_by, comment)
        with self._lock:
            self.silences[silence.id] = silence
        return silence.id

    def expire_silence(self, silence_id: str, now: float) -> bool:
        with self._lock:
            silence = self.silences.get(silence_id)
            if silence is None:
                return False
            silence.ends_at = min(silence.ends_at, now)
            return True

    def acknowledge(self, fp: str, by: str, now: float) -> Notification | None:
        """Stop reminders for a firing alert (not its resolution); PagerDuty-style channels hear about it."""
        with self._lock:
            alert = self.alerts.get(fp)
            if alert is None or alert.state != "firing" or alert.acked:
                return None
            alert.acked, alert.acked_by = True, by
            notification = self._notification("acknowledge", alert, now)
        self.sink(notification)
        return notification

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            self._flush()
            return {
                "evaluatedAt": self.last_evaluation,
                "alerts": [
                    a.to_json()
                    for a in self.alerts.values()
                    if a.state != "inactive" or a.notified == "firing"
                ],
                "silences": [s.to_json() for s in self.silences.values()],
                "series": len(self._series),
                "evictedSeries": self.evicted_series,
                "refusedSeries": self.refused_series,
                "seriesBytes": self._series_bytes,
            }


def _had_volume(spec: RuleSpec, seen: float, longest: int) -> bool:
    """Did the series carry traffic (the guard's rate, or any event without a guard) in its longest window?"""
    return seen / longest >= spec.min_rate if spec.min_rate > 0 else seen > 0


def _severities(spec: RuleSpec, alertname: str) -> tuple[str, ...]:
    if spec.kind != "slo":
        return (spec.severity,)
    if alertname.endswith("NoData"):
        return (spec.no_data_severity,)
    return tuple(sorted({tier.severity for tier in spec.tiers}))


def _without_severity(labels: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in labels.items() if k != "severity"}


def _metric_by(spec: RuleSpec) -> tuple[str, ...]:
    return (("service_name",) if spec.service else ()) + tuple(spec.by)


def _point_id(labels: Mapping[str, str]) -> str:
    return "\x00".join(f"{k}={v}" for k, v in sorted(labels.items()))


def _compare(value: float, op: str, threshold: float) -> bool:
    return {
        ">": value > threshold,
        ">=": value >= threshold,
        "<": value < threshold,
        "<=": value <= threshold,
    }[op]


def _expand(text: str, labels: Mapping[str, str]) -> str:
    return re.sub(r"{{\s*\$labels\.([a-zA-Z_][a-zA-Z0-9_]*)\s*}}", lambda m: labels.get(m.group(1), ""), text)


#: One tier's verdict: True (both windows burn), None (undefined: no events to decide on), False.
TierState = tuple[bool | None, float | None]


def tier_state(
    spec: RuleSpec,
    tier: BurnTier,
    long: tuple[float | None, float],
    short: tuple[float | None, float],
) -> TierState:
    """Three-valued ``long > t and short > t and traffic >= min_rate`` (Kleene: one false conjunct decides).

    ``long``/``short`` are (ratio or None for 0/0, events per second). A long window without events is
    undefined; a long window below the threshold or under the traffic guard is false whatever the short
    window holds; a burning long window with an empty short window (traffic stopped mid-incident) is
    undefined, never false: an empty minute is not a healthy minute.
    """
    threshold = promql.tier_threshold(tier, spec)
    long_ratio, long_rate = long
    if long_ratio is None:
        return None, None
    if long_ratio <= threshold or (spec.min_rate > 0 and long_rate < spec.min_rate):
        return False, long_ratio
    if tier.min_events > 0 and long_rate * tier.long < tier.min_events - 1e-9:
        return False, long_ratio  # too few events in this tier's long window to judge it
    short_ratio, _ = short
    if short_ratio is None:
        return None, long_ratio
    return short_ratio > threshold, long_ratio


def severity_state(tiers: Sequence[TierState]) -> TierState:
    """True if any tier is true; undefined if none is true and any is undefined; otherwise false.

    Undefined holds the alert where it is (firing stays firing, pending stays pending): only a *false*
    severity resolves a page, so a traffic gap right after an outage neither resolves nor re-pages.
    """
    for state, value in tiers:
        if state:
            return True, value
    values = [value for _, value in tiers if value is not None]
    if any(state is None for state, _ in tiers):
        return None, values[0] if values else None
    return False, values[0] if values else None
