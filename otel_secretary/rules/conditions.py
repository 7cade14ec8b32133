"""Span rule conditions read from the count windows: ratios, quantiles, burn-rate tiers, no data.

A condition is three-valued: True (the alert expression holds), False, or None (undefined: no events to
decide on). Undefined is what keeps a traffic gap from resolving a page: see :func:`severity_state`.
The functions here only read windows; the lifecycle (``lifecycle.py``) decides what a condition does.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from otel_secretary.rules import promql
from otel_secretary.rules.series import LATENCY_BOUNDS, SpanSeries
from otel_secretary.rules.spec import BurnTier, RuleSpec
from otel_secretary.rules.windows import histogram_quantile

#: One evaluated alert condition: (spec, alertname, severity, labels, condition, value).
Result = tuple[RuleSpec, str, str, dict[str, str], bool | None, float | None]
#: One tier's verdict: True (both windows burn), None (undefined: no events to decide on), False.
TierState = tuple[bool | None, float | None]


def evaluate_span(spec: RuleSpec, series: SpanSeries, now: float) -> Iterator[Result]:
    """Every alert condition of one span rule over one series at ``now``."""
    ring = series.ring
    labels = series.labels

    def ratio(window: int) -> tuple[float | None, float]:
        bad, total = ring.window(now, window)
        return (bad / total if total > 0 else None), total / window

    def guard(window: int) -> bool:
        return spec.min_rate <= 0 or ratio(window)[1] >= spec.min_rate

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
        yield (
            spec,
            f"{spec.name}NoData",
            spec.no_data_severity,
            labels,
            total == 0 and had_volume(spec, seen, longest),
            total,
        )


def may_change(spec: RuleSpec, series: SpanSeries, now: float) -> bool:
    """Can this series start an alert now? False when it has no bad event in its longest window and, for
    no-data rules, events in the no-data window. (A series with an existing alert is evaluated anyway.)
    """
    if spec.kind == "latency" and spec.quantile is not None:
        return True
    ring = series.ring
    longest = max(spec.windows)
    bad, seen = ring.window(now, longest)
    if bad > 0:
        return True
    if not spec.no_data_for:
        return False
    return ring.window(now, spec.no_data_for)[1] == 0 and had_volume(spec, seen, longest)


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
