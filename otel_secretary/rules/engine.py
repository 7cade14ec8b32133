"""The in-process rule engine: evaluates specs over observed span outcomes and metric points.

Pure core: time comes from the caller (timestamps on input, ``now`` on evaluation), so tests replay days
of traffic in seconds. The engine only orchestrates; each job has its module, as Alertmanager splits
``silence/``, ``inhibit/`` and ``notify/``:

* ``series.py``: span routing, staged counts, the capped windows (storage);
* ``metric_samples.py``: gauge points and counter samples of threshold and forecast rules (sampling);
* ``forecast.py``: the projections of ``kind: forecast`` (linear fit, pace, error budget);
* ``conditions.py``: three-valued conditions read from the windows (ratios, tiers, no data);
* ``lifecycle.py``: inactive → pending → firing → inactive with ``for``/``keep_firing_for``, the flap guard;
* ``suppression.py``: silences, inhibition, flapping;
* ``notifications.py``: trigger, reminder, resolve (repeat interval, ``send_resolved``).

It never does I/O and never raises into the caller's hot path.
"""

from __future__ import annotations

import re
import threading
from bisect import bisect_left
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from otel_secretary import pii
from otel_secretary.alerting.model import (
    AlertInstance,
    AlertState,
    Matcher,
    Notification,
    NotificationKind,
    Silence,
    fingerprint,
)
from otel_secretary.pii import Masker
from otel_secretary.rules import conditions, forecast, lifecycle, suppression
from otel_secretary.rules.conditions import severity_state, tier_state
from otel_secretary.rules.metric_samples import MetricSamples
from otel_secretary.rules.notifications import NotificationPolicy, build
from otel_secretary.rules.series import LATENCY_BOUNDS, CountRow, SeriesKey, SeriesStore, SpanSeries
from otel_secretary.rules.spec import Routing, RuleSpec

__all__ = [
    "LATENCY_BOUNDS",
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

SOURCE = "embedded"


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
        self._routing = routing
        # Label values come from raw span names and metric attributes (the engine sees spans before the
        # exporters mask them): they are masked once, when a route or a metric series is first seen.
        self.masker = masker
        self.options = options or EngineOptions()
        self.sink: _Sink = sink or (lambda _n: None)
        self._lock = threading.Lock()
        self._spec_by_name = {s.name: s for s in self.specs}
        # Threshold rules and the linear/pace forecasts read metric points; every other rule reads spans.
        self._metric_specs = [s for s in self.specs if forecast.reads_metrics(s)]
        self._span_specs = [s for s in self.specs if not forecast.reads_metrics(s)]
        self._store = SeriesStore(
            self._span_specs,
            bucket_seconds=self.options.bucket_seconds,
            max_series=self.options.max_series,
            max_series_bytes=self.options.max_series_bytes,
            mask=self._mask,
        )
        self._plans = [conditions.plan(spec) for spec in self._span_specs]
        self._metrics = MetricSamples(self._metric_specs, self.options.max_series, self._masked_labels)
        self._silences = suppression.Silences()
        self._policy = NotificationPolicy(self.options.repeat_interval, routing, self._spec_by_name)
        self.alerts: dict[str, AlertInstance] = {}
        self._inhibit_keys: dict[str, frozenset[tuple[str, str]]] = {}
        self._identities: dict[
            tuple[str, str, str, tuple[tuple[str, str], ...]], tuple[dict[str, str], str]
        ] = {}
        self.errors = 0
        self.last_evaluation: float | None = None

    # ---------------------------------------------------------------- state other modules read

    @property
    def _series(self) -> OrderedDict[SeriesKey, SpanSeries]:
        return self._store.series

    @property
    def routing(self) -> Routing | None:
        """Repeat intervals, routes and inhibition (``routing:`` of the specs); replaceable at run time."""
        return self._routing

    @routing.setter
    def routing(self, routing: Routing | None) -> None:
        self._routing = routing
        self._policy = NotificationPolicy(self.options.repeat_interval, routing, self._spec_by_name)

    @property
    def silences(self) -> dict[str, Silence]:
        return self._silences.by_id

    @silences.setter
    def silences(self, silences: dict[str, Silence]) -> None:
        self._silences.by_id = silences

    @property
    def fold_staged(self) -> bool:
        """False when counts travel through the data folder (:meth:`drain`/:meth:`ingest`)."""
        return self._store.fold_staged

    @fold_staged.setter
    def fold_staged(self, value: bool) -> None:
        self._store.fold_staged = value

    @property
    def evicted_series(self) -> int:
        return self._store.evicted + self._metrics.evicted

    @property
    def refused_series(self) -> int:
        return self._store.refused

    # ------------------------------------------------------------------ observation (hot path)

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
        store = self._store
        if not store.routes(service, name, kind):
            return
        # SeriesStore.stage_key and .stage, inlined: this runs for every ended span.
        key = (
            service,
            name,
            kind,
            error,
            bisect_left(store.bounds, duration - 1e-12),
            int(timestamp // store.bucket),
        )
        with self._lock:
            staged = store.staged
            staged[key] = staged.get(key, 0.0) + count
            if len(staged) >= 4096:
                store.stage_full()

    def _flush(self) -> None:
        self._store.flush()

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
        for index, spec, key in self._metrics.match(name, attributes):
            with self._lock:
                self._metrics.record(index, spec, key, value, timestamp)

    # ---------------------------------------------------------------- shared counts (files, workers)

    def drain(self) -> list[CountRow]:
        r"""Take the staged span counts as (minute, rule, series key, values) instead of folding them in.

        Used when counts travel through the data folder: every process writes what it saw, and the
        evaluating process :meth:`ingest`\ s everyone's (its own included) into its windows.
        """
        with self._lock:
            return self._store.drain()

    def ingest(self, rows: Iterable[tuple[int, str, Sequence[str], Sequence[float]]]) -> int:
        """Fold counts written by :meth:`drain` (any process) into the windows; returns rows taken.

        Rows for rules this engine does not know, or of the wrong width (a spec changed), are skipped.
        """
        with self._lock:
            return self._store.ingest(rows)

    def reset(self) -> None:
        """Forget alerts, windows and metric points (a new evaluator rebuilds them from the data folder)."""
        with self._lock:
            self.alerts.clear()
            self._store.clear()
            self._metrics.clear()

    def after_fork(self) -> None:
        """In a forked child: a fresh lock (a parent thread may have held it) and no staged counts (the
        parent writes the counts it saw)."""
        self._lock = threading.Lock()
        self._store.forget_staged()

    def export_alerts(self) -> list[dict[str, Any]]:
        """Every alert the engine remembers (pending, firing, resolved but still within retention)."""
        with self._lock:
            return [a.to_json() for a in self.alerts.values()]

    def restore_alerts(self, alerts: Iterable[Mapping[str, Any]]) -> int:
        """Take alerts persisted by a previous process: their ``for`` state, what was notified, acks.

        Alerts of rules that no longer exist are dropped; the rest continue as if there had been no
        restart (a firing alert already notified is not triggered again, its resolve will be sent).
        """
        restored = 0
        with self._lock:
            for raw in alerts:
                try:
                    alert = AlertInstance.from_json(raw)
                except (KeyError, TypeError, ValueError, AttributeError):
                    continue
                if alert.labels.get("rule") not in self._spec_by_name:
                    continue
                self.alerts[alert.fingerprint] = alert
                restored += 1
        return restored

    # ------------------------------------------------------------------------------ evaluation

    def evaluate(self, now: float) -> list[Notification]:
        """Evaluate every rule at ``now``, advance lifecycles, and send what changed; returns it too."""
        sent: list[Notification] = []
        with self._lock:
            self._store.flush()
            seen: set[str] = set()
            alerts = self.alerts
            plans = self._plans
            for (index, _key), series in self._store.series.items():  # evaluation adds no series
                plan = plans[index]
                spec = plan.spec
                if series.fingerprints is None:
                    names = [(n, s) for n in spec.alert_names for s in conditions.severities(spec, n)]
                    series.fingerprints = tuple(
                        self._series_identity(series, spec, n, s)[1] for n, s in names
                    )
                has_alert = not alerts.keys().isdisjoint(series.fingerprints)
                found = conditions.evaluate_plan(plan, series, now, quiet_ok=not has_alert)
                for alertname, severity, condition, value in found or ():
                    full, fp = self._series_identity(series, spec, alertname, severity)
                    if not condition and fp not in alerts:
                        continue  # nothing to start, nothing to hold or resolve
                    seen.add(fp)
                    self._step(spec, fp, alertname, severity, full, condition, value, now)
            for index, metric_spec in enumerate(self._metric_specs):
                for spec, alertname, severity, labels, condition, value in self._metrics.evaluate(
                    index, metric_spec, now
                ):
                    full, fp = self._identity(spec, alertname, severity, labels)
                    seen.add(fp)
                    self._step(spec, fp, alertname, severity, full, condition, value, now)
            for fp, alert in list(self.alerts.items()):
                if fp not in seen and alert.state != "inactive":
                    spec = self._spec_by_name[alert.labels["rule"]]
                    lifecycle.advance(alert, spec, lifecycle.unseen_condition(alert, spec, now), None, now)
            inhibition = suppression.Inhibition(self.alerts.values(), self._routing, self._inhibit_keys)
            for alert in self._ordered_alerts():
                sent.extend(self._reconcile(alert, inhibition, now))
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

    def _series_identity(
        self, series: SpanSeries, spec: RuleSpec, alertname: str, severity: str
    ) -> tuple[dict[str, str], str]:
        identity = series.identities.get((alertname, severity))
        if identity is None:
            identity = series.identities[(alertname, severity)] = self._identity(
                spec, alertname, severity, series.labels
            )
        return identity

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
            alert = AlertInstance(alertname, dict(labels), annotations, fp, severity)
            self.alerts[fp] = alert
        lifecycle.advance(alert, spec, condition, value, now)

    def _ordered_alerts(self) -> list[AlertInstance]:
        # Pages first, so inhibition of tickets sees this evaluation's pages.
        return sorted(self.alerts.values(), key=lambda a: (a.severity != "page", a.fingerprint))

    def _reconcile(
        self, alert: AlertInstance, inhibition: suppression.Inhibition, now: float
    ) -> list[Notification]:
        options = self.options
        lifecycle.update_flapping(alert, now, options.flap_changes, options.flap_window)
        alert.suppressed_by = suppression.suppressed_by(alert, inhibition, self._silences, now)
        if alert.suppressed_by:
            return []
        notification = self._policy.decide(alert, now)
        return [] if notification is None else [notification]

    def _forget(self, now: float) -> None:
        retention = max(self.options.resolved_retention, self.options.flap_window)
        for fp, alert in list(self.alerts.items()):
            if lifecycle.expired(alert, now, retention):
                del self.alerts[fp]
        self._silences.forget(now)

    # --------------------------------------------------------------------------- operations

    def add_silence(
        self,
        matchers: Sequence[Matcher],
        starts_at: float,
        ends_at: float,
        created_by: str = "",
        comment: str = "",
    ) -> str:
        with self._lock:
            return self._silences.add(matchers, starts_at, ends_at, created_by, comment).id

    def expire_silence(self, silence_id: str, now: float) -> bool:
        with self._lock:
            return self._silences.expire(silence_id, now)

    def acknowledge(self, fp: str, by: str, now: float) -> Notification | None:
        """Stop reminders for a firing alert (not its resolution); PagerDuty-style channels hear about it."""
        with self._lock:
            alert = self.alerts.get(fp)
            if alert is None or alert.state != "firing" or alert.acked:
                return None
            alert.acked, alert.acked_by = True, by
            notification = build("acknowledge", alert, now)
        self.sink(notification)
        return notification

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            self._store.flush()
            return {
                "evaluatedAt": self.last_evaluation,
                "alerts": [
                    a.to_json()
                    for a in self.alerts.values()
                    if a.state != "inactive" or a.notified == "firing"
                ],
                "silences": [s.to_json() for s in self.silences.values()],
                "series": len(self._store.series),
                "evictedSeries": self.evicted_series,
                "refusedSeries": self.refused_series,
                "seriesBytes": self._store.bytes,
            }


def _expand(text: str, labels: Mapping[str, str]) -> str:
    return re.sub(r"{{\s*\$labels\.([a-zA-Z_][a-zA-Z0-9_]*)\s*}}", lambda m: labels.get(m.group(1), ""), text)
