"""``kind: forecast``: alert on where a series is heading, before it gets there.

A threshold alert on disk use, AI spend or an SLO's error budget fires once the damage is (nearly) done.
A forecast rule projects the series forward and fires while there is still time to act. Three
projections, each rendered for Prometheus and evaluated by the in-process engine with the same arithmetic
(``tests/rules/test_forecast.py`` replays the same series through ``promtool test rules`` and the engine):

``linear``
    ``predict_linear(gauge[window], horizon) <op> value``: least squares over the window, extended by the
    horizon (disk projected full within 4 h). A fit needs history: a series with fewer than one sample per
    two minutes of the window is not projected (``count_over_time``), so three noisy points after a
    restart cannot draw a steep line.
``pace``
    ``rate(counter[window]) * horizon > value``: the spend over ``horizon`` at the pace of the last
    ``window`` (an AI cost counter per tenant projected over a 30-day month against its monthly budget).
``error_budget``
    ``ratio(period) + (ratio(window) - ratio(period)) * horizon / period >= 1 - objective``: the error
    ratio of the rolling SLO period ``horizon`` from now if the last ``window`` goes on, where what enters
    is the current burn and what leaves is the period's average. A series flat at any ratio below the
    budget never fires; a burn that would exhaust the budget within ``horizon`` does, before it is gone.

The engine keeps the samples of ``linear``/``pace`` rules per series (as it does for counter thresholds)
(``metric_samples.py``) and reads ``error_budget`` ratios from the same minute windows as SLO rules, sized
to the period (``conditions.py``).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from otel_secretary.rules import promql
from otel_secretary.rules.promql import RECORD_RATIO
from otel_secretary.rules.spec import AGGREGATES, OPERATORS, PROJECTIONS, RuleSpec, aggregate, format_duration

if TYPE_CHECKING:
    from otel_secretary.rules.spec import _Reader

#: The engine's result row: (spec, alertname, severity, labels, condition, value).
Result = tuple[RuleSpec, str, str, dict[str, str], bool | None, float | None]


def on_metrics(spec: RuleSpec) -> bool:
    """Forecasts over metric points (``linear``, ``pace``), evaluated where threshold rules are."""
    return spec.kind == "forecast" and spec.projection in ("linear", "pace")


def reads_metrics(spec: RuleSpec) -> bool:
    """Rules evaluated over metric points (threshold rules and ``linear``/``pace`` forecasts); every
    other rule reads span windows."""
    return spec.kind == "threshold" or on_metrics(spec)


def min_samples(spec: RuleSpec) -> int:
    """Samples a ``linear`` fit needs in its window: one per two minutes (at least 3)."""
    return max(3, spec.window // 120)


def parse(reader: _Reader) -> dict[str, Any]:
    """The forecast fields of one rule (``window``, ``severity``, ``for`` are read with every rule)."""
    projection = reader.text("projection", choices=PROJECTIONS)
    fields: dict[str, Any] = {"projection": projection, "horizon": reader.duration("horizon")}
    if fields["horizon"] < 60:
        raise reader.error("horizon", "must be at least 1m")
    if projection == "error_budget":
        fields["objective"] = reader.number("objective", low=50.0, high=99.999)
        fields["period"] = reader.duration("period", 30 * 86400)
        return fields
    fields["metric"] = reader.text("metric")
    fields["unit"] = reader.text("unit", "")
    fields["match"] = reader.string_map("match")
    fields["by"] = tuple(reader.string_list("by", ()))
    fields["collector_metric"] = reader.opt_str("collector_metric")
    fields["threshold"] = reader.number("value", low=-1e18, high=1e18)
    if projection == "linear":
        fields["metric_type"] = "gauge"
        fields["aggregate"] = reader.text("aggregate", "max", choices=AGGREGATES)
        fields["op"] = reader.text("op", ">=", choices=OPERATORS)
    else:
        fields["metric_type"] = "counter"
        fields["function"] = "rate"
        fields["aggregate"] = reader.text("aggregate", "sum", choices=AGGREGATES)
        fields["op"] = ">"
    return fields


# ------------------------------------------------------------------------------------------ PromQL


def _series(spec: RuleSpec, source: str) -> str:
    flavour = "collector" if source == "collector" else "sdk"
    if source == "collector" and spec.collector_metric:
        name = spec.collector_metric
    else:
        name = promql.prometheus_name(spec.metric, spec.unit, spec.metric_type, flavour=flavour)
    return f"{name}{promql.metric_selector(spec.match)}"


def _aggregate(spec: RuleSpec, inner: str) -> str:
    return (
        f"{spec.aggregate} by ({', '.join(spec.by)}) ({inner})" if spec.by else f"{spec.aggregate}({inner})"
    )


def projected(spec: RuleSpec, source: str, *, inline: bool = False) -> str:
    """The projected quantity (the left side of the alert's comparison). ``inline``: error ratios
    written out instead of read from the recording rules, for dashboards on a Prometheus that scrapes
    without our rule files."""
    if spec.projection == "linear":
        series, window = _series(spec, source), format_duration(spec.window)
        fit = (
            f"predict_linear({series}[{window}], {spec.horizon})"
            f" and count_over_time({series}[{window}]) >= {min_samples(spec)}"
        )
        return _aggregate(spec, fit)
    if spec.projection == "pace":
        rate = f"rate({_series(spec, source)}[{format_duration(spec.window)}])"
        return f"{_aggregate(spec, rate)} * {spec.horizon}"
    share = promql.num(round(spec.horizon / spec.period, 9))
    if inline:
        queries = promql.SpanQueries(replace(spec, kind="error_rate"), source)
        period, now = (f"({queries.bad(w)} / {queries.total(w)})" for w in (spec.period, spec.window))
        return f"{period} + ({now} - {period}) * {share}"
    selector = promql.matchers([("rule", "=", spec.name), ("source", "=", source)])
    period = f"{RECORD_RATIO}{format_duration(spec.period)}{selector}"
    now = f"{RECORD_RATIO}{format_duration(spec.window)}{selector}"
    return f"{period} + ({now} - {period}) * {share}"


def limit(spec: RuleSpec) -> tuple[str, float]:
    """The comparison and the limit the projection is held against."""
    if spec.projection == "error_budget":
        return ">=", round(spec.budget, 9)
    return spec.op, spec.threshold


def expression(spec: RuleSpec, source: str) -> str:
    """The alert expression of a forecast rule for one source."""
    op, value = limit(spec)
    return f"{projected(spec, source)} {op} {promql.num(value)}"


def rules_for(spec: RuleSpec, source: str) -> list[dict[str, Any]]:
    """Recording rules (error-budget projections) and the alert of one forecast spec."""
    labels = {"rule": spec.name, "source": source}
    rules: list[dict[str, Any]] = []
    if spec.projection == "error_budget":
        queries = promql.SpanQueries(replace(spec, kind="error_rate"), source)  # errors are the bad events
        rules = promql.sli_recording_rules(queries, spec.windows, labels)
    alert: dict[str, Any] = {"alert": spec.name, "expr": expression(spec, source)}
    if spec.for_:
        alert["for"] = format_duration(spec.for_)
    if spec.keep_firing_for:
        alert["keep_firing_for"] = format_duration(spec.keep_firing_for)
    alert["labels"] = {"severity": spec.severity, **spec.labels}
    if spec.projection != "error_budget":
        alert["labels"] = {**labels, **alert["labels"]}
    if not spec.send_resolved:
        alert["labels"]["send_resolved"] = "false"
    alert["annotations"] = dict(spec.annotations)
    rules.append(alert)
    return rules


# ----------------------------------------------------------------------------------------- engine


def fit_at(samples: Sequence[tuple[float, float]], now: float, horizon: float) -> float | None:
    """Prometheus' ``predict_linear``: least squares with the intercept at ``now``, ``horizon`` ahead."""
    n = len(samples)
    if n < 2:
        return None
    sum_x = sum_y = sum_xy = sum_x2 = 0.0
    for t, v in samples:
        x = t - now
        sum_x += x
        sum_y += v
        sum_xy += x * v
        sum_x2 += x * x
    cov = sum_xy - sum_x * sum_y / n
    var = sum_x2 - sum_x * sum_x / n
    if var == 0:
        return None
    slope = cov / var
    intercept = sum_y / n - slope * sum_x / n
    return intercept + slope * horizon


def prometheus_rate(samples: Sequence[tuple[float, float]], start: float, end: float) -> float | None:
    """Prometheus' ``rate()`` over ``[start, end]`` (``extrapolatedRate`` of 2.42), counter resets included.

    The increase between the first and last sample is extrapolated towards the range ends (by the gap
    when it is under 1.1 sample intervals, else half an interval; never below zero at the start), then
    divided by the whole range. A series younger than the window therefore gets a low rate, in
    Prometheus and here alike.
    """
    if len(samples) < 2:
        return None
    first_t, first_v = samples[0]
    last_t = samples[-1][0]
    result = sum(b[1] - a[1] if b[1] >= a[1] else b[1] for a, b in itertools.pairwise(samples))
    sampled = last_t - first_t
    if sampled <= 0:
        return None
    average = sampled / (len(samples) - 1)
    to_start, to_end = first_t - start, end - last_t
    if result > 0 and first_v >= 0:
        to_start = min(to_start, sampled * (first_v / result))
    threshold = average * 1.1
    interval = sampled + (to_start if to_start < threshold else average / 2)
    interval += to_end if to_end < threshold else average / 2
    return result * (interval / sampled) / (end - start)


def evaluate_metric(
    spec: RuleSpec,
    series: Mapping[tuple[str, ...], Iterable[tuple[float, float]]],
    by: Sequence[str],
    now: float,
    compare: Callable[[float, str, float], bool],
) -> list[Result]:
    """One result per ``by`` group of a ``linear``/``pace`` rule: the projected value against ``value``."""
    groups: dict[tuple[str, ...], list[float]] = {}
    for key, samples in series.items():
        recent = [(t, v) for t, v in samples if now - spec.window <= t <= now]
        if spec.projection == "linear":
            projected = fit_at(recent, now, spec.horizon) if len(recent) >= min_samples(spec) else None
        else:
            projected = prometheus_rate(recent, now - spec.window, now)
        if projected is not None:
            groups.setdefault(key[:-1], []).append(projected)
    results: list[Result] = []
    for key, values in groups.items():
        value = aggregate(spec.aggregate, values)
        if spec.projection == "pace":
            value *= spec.horizon
        labels = dict(zip(by, key, strict=True))
        results.append(
            (spec, spec.name, spec.severity, labels, compare(value, spec.op, spec.threshold), value)
        )
    return results


def budget_projection(
    spec: RuleSpec, period: tuple[float, float], window: tuple[float, float]
) -> tuple[bool, float | None]:
    """The error-budget projection of one span series from its (bad, total) over the period and the
    window; a window without events is false (as NaN in PromQL, where the comparison drops the series)."""
    if period[1] <= 0 or window[1] <= 0:
        return False, None
    past, current = period[0] / period[1], window[0] / window[1]
    projected = past + (current - past) * round(spec.horizon / spec.period, 9)
    return projected >= round(spec.budget, 9), projected
