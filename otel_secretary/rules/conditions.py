"""Span rule conditions read from the count windows: ratios, quantiles, burn-rate tiers, no data, and
error-budget forecasts (:mod:`otel_secretary.rules.forecast`).

A condition is three-valued: True (the alert expression holds), False, or None (undefined: no events to
decide on). Undefined is what keeps a traffic gap from resolving a page: see :func:`severity_state`.
The functions here only read windows; the lifecycle (``lifecycle.py``) decides what a condition does.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from otel_secretary.rules import forecast, promql
from otel_secretary.rules.series import LATENCY_BOUNDS, SpanSeries
from otel_secretary.rules.spec import BurnTier, RuleSpec
from otel_secretary.rules.windows import histogram_quantile

#: One evaluated alert condition: (spec, alertname, severity, labels, condition, value).
Result = tuple[RuleSpec, str, str, dict[str, str], bool | None, float | None]
#: One tier's verdict: True (both windows burn), None (undefined: no events to decide on), False.
TierState = tuple[bool | None, float | None]


#: One condition of a series: (alertname, severity, condition, value).
Condition = tuple[str, str, bool | None, float | None]
#: A tier compiled for evaluation: (index of its long window, of its short window, threshold, min_events,
#: long window in seconds).
_Tier = tuple[int, int, float, float, int]


@dataclass(frozen=True)
class SpanPlan:
    """A span rule compiled once for evaluation: the distinct windows it reads (longest first) and, per
    severity, its tiers with their thresholds, so an evaluation does no spec arithmetic."""

    spec: RuleSpec
    windows: tuple[int, ...]
    tiers: tuple[tuple[str, tuple[_Tier, ...]], ...]
    no_data: int  # index of the no-data window in ``windows``, -1 without one
    quantile: bool
    burn_name: str
    no_data_name: str


def plan(spec: RuleSpec) -> SpanPlan:
    windows = tuple(sorted(set(spec.windows), reverse=True))
    position = {w: i for i, w in enumerate(windows)}
    tiers = []
    for severity in ("page", "ticket"):
        chosen = tuple(
            (position[t.long], position[t.short], promql.tier_threshold(t, spec), t.min_events, t.long)
            for t in spec.tiers
            if t.severity == severity
        )
        if chosen:
            tiers.append((severity, chosen))
    return SpanPlan(
        spec=spec,
        windows=windows,
        tiers=tuple(tiers) if spec.kind == "slo" else (),
        no_data=position[spec.no_data_for] if spec.kind == "slo" and spec.no_data_for else -1,
        quantile=spec.kind == "latency" and spec.quantile is not None,
        burn_name=f"{spec.name}BudgetBurn",
        no_data_name=f"{spec.name}NoData",
    )


def evaluate_plan(
    plan: SpanPlan, series: SpanSeries, now: float, *, quiet_ok: bool
) -> list[Condition] | None:
    """Every condition of one series at ``now``; None if ``quiet_ok`` and none can start an alert.

    "Cannot start": no bad event in the longest window and, for no-data rules, events in the no-data window
    (or no volume to miss). The caller passes ``quiet_ok`` only for series without an alert, whose
    conditions then change nothing; most series of a healthy service end here after one window read.
    """
    spec = plan.spec
    ring = series.ring
    if plan.quantile:
        counts = ring.window(now, spec.window)
        seconds = histogram_quantile(spec.quantile or 0.0, LATENCY_BOUNDS, counts)
        slow = None if seconds is None else seconds > spec.latency_threshold
        return [(spec.name, spec.severity, slow, seconds)]
    windows = plan.windows
    # A series with an alert reads every window at once; one without first reads the longest only.
    pairs = ring.pairs(now, windows[:1] if quiet_ok else windows)
    if quiet_ok and pairs[0][0] <= 0:
        if plan.no_data < 0:
            return None
        total = ring.pairs(now, windows[plan.no_data : plan.no_data + 1])[0][1]
        if total != 0 or not had_volume(spec, pairs[0][1], windows[0]):
            return None
    if spec.kind == "forecast":  # error_budget: the period's ratio moved towards the window's
        if len(pairs) < len(windows):
            pairs += ring.pairs(now, windows[1:])
        by_window = dict(zip(windows, pairs, strict=True))
        heading, projected = forecast.budget_projection(spec, by_window[spec.period], by_window[spec.window])
        return None if quiet_ok and not heading else [(spec.name, spec.severity, heading, projected)]
    min_rate = spec.min_rate
    if spec.kind != "slo":
        bad, total = pairs[0]
        if total <= 0:
            return [(spec.name, spec.severity, None, None)]
        ratio = bad / total
        condition = ratio > spec.threshold and (min_rate <= 0 or total / windows[0] >= min_rate)
        return None if quiet_ok and not condition else [(spec.name, spec.severity, condition, ratio)]
    if len(pairs) < len(windows):
        pairs += ring.pairs(now, windows[1:])
    out: list[Condition] = []
    for severity, tiers in plan.tiers:
        # severity_state inline: the first true tier decides; else undefined if any tier is undefined.
        burning: bool | None = False
        value: float | None = None
        for long_i, short_i, threshold, min_events, long_seconds in tiers:
            lb, lt = pairs[long_i]
            sb, st = pairs[short_i]
            state, tier_value = _tier(
                threshold,
                min_rate,
                min_events,
                long_seconds,
                (lb / lt if lt > 0 else None, lt / long_seconds),
                (sb / st if st > 0 else None, st / windows[short_i]),
            )
            if state:
                burning, value = True, tier_value
                break
            if value is None:
                value = tier_value
            if state is None:
                burning = None
        out.append((plan.burn_name, severity, burning, value))
    if plan.no_data >= 0:
        total = pairs[plan.no_data][1]
        seen = pairs[0][1]
        out.append(
            (
                plan.no_data_name,
                spec.no_data_severity,
                total == 0 and had_volume(spec, seen, windows[0]),
                total,
            )
        )
    return out


def evaluate_span(spec: RuleSpec, series: SpanSeries, now: float) -> Iterator[Result]:
    """Every alert condition of one span rule over one series at ``now`` (uncompiled convenience form)."""
    for alertname, severity, condition, value in evaluate_plan(plan(spec), series, now, quiet_ok=False) or []:
        yield spec, alertname, severity, series.labels, condition, value


def had_volume(spec: RuleSpec, seen: float, longest: int) -> bool:
    """Did the series carry traffic (the guard's rate, or any event without a guard) in its longest window?"""
    return seen / longest >= spec.min_rate if spec.min_rate > 0 else seen > 0


def severities(spec: RuleSpec, alertname: str) -> tuple[str, ...]:
    """The severities an alert of ``alertname`` from ``spec`` can take."""
    if spec.kind != "slo":
        return (spec.severity,)
    if alertname.endswith("NoData"):
        return (spec.no_data_severity,)
    return tuple(sorted({tier.severity for tier in spec.tiers}))


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
    return _tier(promql.tier_threshold(tier, spec), spec.min_rate, tier.min_events, tier.long, long, short)


def _tier(
    threshold: float,
    min_rate: float,
    min_events: float,
    long_seconds: int,
    long: tuple[float | None, float],
    short: tuple[float | None, float],
) -> TierState:
    long_ratio, long_rate = long
    if long_ratio is None:
        return None, None
    if long_ratio <= threshold or (min_rate > 0 and long_rate < min_rate):
        return False, long_ratio
    if min_events > 0 and long_rate * long_seconds < min_events - 1e-9:
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
