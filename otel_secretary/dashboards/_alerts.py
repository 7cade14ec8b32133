"""One panel per alert rule, plotting the very quantity the rule compares, with its threshold drawn.

The expressions come from the rules helper (:mod:`otel_secretary.rules.promql`), built for the rule's own
window and services, so a panel cannot disagree with the alert it explains. Template variables do not
apply here on purpose: the panel shows what the alert sees.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from otel_secretary.dashboards._grafana import Panel, Query
from otel_secretary.dashboards._queries import legend, ratio
from otel_secretary.dashboards._thresholds import red_line
from otel_secretary.rules import forecast, promql
from otel_secretary.rules.promql import SpanQueries, num
from otel_secretary.rules.spec import RuleSpec, format_duration

RUNBOOK_PREFIX = "docs/runbooks/"
_SOURCE_NAMES = {"collector": "spans", "sdk": "SDK"}
_THRESHOLD_SOURCES = {"collector": "Collector", "sdk": "SDK"}


def runbook_of(spec: RuleSpec) -> str | None:
    url = spec.annotations.get("runbook_url", "")
    return url.removeprefix(RUNBOOK_PREFIX) if url.startswith(RUNBOOK_PREFIX) else None


def _span_sources(spec: RuleSpec) -> tuple[str, ...]:
    return ("collector", "sdk") if spec.sdk is not None else ("collector",)


_SPANS_NOTE = "Legend: spans = Collector spanmetrics, SDK = the app's own metrics."
_THRESHOLD_NOTE = "Legend: Collector / SDK = the metric as each exporter names it."


def _describe(spec: RuleSpec, what: str, note: str = _SPANS_NOTE) -> str:
    wait = f" for {format_duration(spec.for_)}" if spec.for_ else ""
    summary = spec.annotations.get("description") or spec.annotations.get("summary", "")
    return (
        f"Alert {spec.name} ({spec.severity}): {what}{wait}. {summary} "
        f"Same expression as generated/<source>/{spec.name}.rules.yml. {note}"
    )


def _ratio_panel(spec: RuleSpec) -> Panel:
    what = "slow" if spec.kind == "latency" else "failed"
    return _window_panel(
        spec,
        f"share {what}",
        lambda q: ratio(q.bad(spec.window), q.total(spec.window)),
        f"share of {what} spans above {num(spec.threshold)}",
        "percentunit",
        spec.threshold,
    )


def _quantile_panel(spec: RuleSpec) -> Panel:
    assert spec.quantile is not None
    percentile = f"p{num(spec.quantile * 100)}"
    return _window_panel(
        spec,
        f"{percentile} latency",
        lambda q: q.quantile(spec.window),
        f"{percentile} above {num(spec.latency_threshold)}s",
        "s",
        spec.latency_threshold,
    )


def _window_panel(
    spec: RuleSpec,
    what: str,
    expression: Callable[[SpanQueries], str],
    description: str,
    unit: str,
    threshold: float,
) -> Panel:
    """The rule's quantity over its own window, one query per span source, its threshold in red."""
    queries = []
    for source in _span_sources(spec):
        q = SpanQueries(spec, source)
        queries.append(Query(expression(q), legend(*q.by, suffix=_SOURCE_NAMES[source])))
    return Panel(
        title=f"{spec.name}: {what} ({format_duration(spec.window)})",
        queries=tuple(queries),
        description=_describe(spec, description),
        unit=unit,
        thresholds=((threshold, "red"),),
        runbook=runbook_of(spec),
        minimum=0,
    )


def _slo_panel(spec: RuleSpec) -> Panel:
    """Error ratio over the fastest tier's long and short windows, against that tier's threshold."""
    tier = spec.tiers[0]
    queries = []
    for source in _span_sources(spec):
        q = SpanQueries(spec, source)
        for window in (tier.long, tier.short):
            queries.append(
                Query(
                    ratio(q.bad(window), q.total(window)),
                    legend(*q.by, suffix=f"{format_duration(window)} {_SOURCE_NAMES[source]}"),
                )
            )
    steps = sorted({(promql.tier_threshold(t, spec), t.severity) for t in spec.tiers if t.severity == "page"})
    colours = ["orange", "red"]
    thresholds = tuple((value, colours[min(i, 1)]) for i, (value, _) in enumerate(steps))
    bad = "slower than " + num(spec.latency_threshold) + "s" if spec.sli == "latency" else "failed"
    return Panel(
        title=f"{spec.name}: {num(spec.objective)}% SLO, share {bad}",
        queries=tuple(queries),
        description=_describe(
            spec,
            f"pages when the {format_duration(tier.long)} and {format_duration(tier.short)} ratios exceed "
            f"{num(promql.tier_threshold(tier, spec))} ({num(tier.factor)}x the budget)",
        ),
        unit="percentunit",
        thresholds=thresholds,
        runbook=runbook_of(spec),
        minimum=0,
    )


def _threshold_panel(spec: RuleSpec) -> Panel:
    values: dict[str, list[str]] = {}
    labels: tuple[str, ...] = ()
    for source in ("collector", "sdk"):
        expr, labels = promql.threshold_expr(spec, source)
        comparison = f" {spec.op} {num(spec.threshold)}"
        if not expr.endswith(comparison):  # pragma: no cover - guards a change in promql's output shape
            raise ValueError(f"{spec.name}: cannot split {expr!r} at {comparison!r}")
        values.setdefault(expr[: -len(comparison)], []).append(source)
    # The Collector's translator names some metrics differently (unit-1 gauges get ``_ratio``).
    queries = [
        Query(value, legend(*labels, suffix="" if len(values) == 1 else _THRESHOLD_SOURCES[sources[0]]))
        for value, sources in values.items()
    ]
    unit = "percentunit" if spec.unit == "1" else "short"
    return Panel(
        title=f"{spec.name}: {spec.metric}",
        queries=tuple(queries),
        description=_describe(
            spec,
            f"{spec.aggregate} {spec.op} {num(spec.threshold)}",
            _THRESHOLD_NOTE if len(values) > 1 else "",
        ).strip(),
        unit=unit,
        thresholds=((spec.threshold, "red"),),
        runbook=runbook_of(spec),
    )


def _forecast_panel(spec: RuleSpec) -> Panel:
    """The projected value (rules/forecast.py), against the limit it must not reach."""
    sources = ("collector", "sdk") if forecast.on_metrics(spec) else _span_sources(spec)
    values: dict[str, list[str]] = {}
    for source in sources:
        values.setdefault(forecast.projected(spec, source, inline=True), []).append(source)
    by = spec.by
    queries = [
        Query(expr, legend(*by, suffix="" if len(values) == 1 else _THRESHOLD_SOURCES[names[0]]))
        for expr, names in values.items()
    ]
    op, value = forecast.limit(spec)
    unit = "percentunit" if spec.projection == "error_budget" or spec.unit == "1" else "short"
    return Panel(
        title=f"{spec.name}: projected {format_duration(spec.horizon)} ahead",
        queries=tuple(queries),
        description=_describe(spec, f"{spec.projection} projection {op} {num(value)}", _THRESHOLD_NOTE),
        unit=unit,
        thresholds=((red_line(spec), "red"),),
        runbook=runbook_of(spec),
    )


def signal_panel(spec: RuleSpec) -> Panel:
    if spec.kind == "forecast":
        return _forecast_panel(spec)
    if spec.kind == "slo":
        return _slo_panel(spec)
    if spec.kind == "threshold":
        return _threshold_panel(spec)
    if spec.kind == "latency" and spec.quantile is not None:
        return _quantile_panel(spec)
    return _ratio_panel(spec)


def signal_panels(specs: Sequence[RuleSpec]) -> tuple[Panel, ...]:
    return tuple(signal_panel(spec) for spec in specs)
