"""Scenarios of forecast rules: the generated promtool tests and the engine tests replay the same series.

Each forecast spec gets two: ``heading`` (the series heads for its limit; the alert must fire at
``eval_minute``, while the value itself is still on the safe side of the limit) and ``flat`` (noisy but
level, on the safe side; the alert must stay quiet). The noise is deterministic, so the committed test
files never change between renders.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from otel_secretary.config_error import ConfigError
from otel_secretary.rules import forecast, promql
from otel_secretary.rules.render import SeriesSet, Traffic, _case, span_series
from otel_secretary.rules.spec import RuleSpec


class ScenarioError(ConfigError):
    """A forecast spec whose timing leaves no room for the generated test's scenario (``rules render``)."""


#: Error-budget scenario: a healthy stretch at half the budget, then a burn at 1.5x the budget.
HEALTHY_MINUTES = 720


def noise(i: int) -> float:
    """A fixed pseudo-random sequence in [-1, 1] (no period shorter than 13 samples)."""
    return ((i * 7919) % 13 - 6) / 6


@dataclass(frozen=True)
class Scenario:
    """Per-minute inputs and the expected verdict at ``eval_minute``."""

    name: str
    minutes: int
    eval_minute: int
    fires: bool
    #: linear: gauge value per minute; pace: cumulative counter per minute.
    values: tuple[float, ...] = ()
    #: error_budget: (minutes, events per minute, bad share) phases.
    phases: tuple[tuple[int, float, float], ...] = ()

    def value_at(self, minute: int) -> float:
        return self.values[minute]


def _direction(spec: RuleSpec) -> float:
    return 1.0 if spec.op.startswith(">") else -1.0


def scenarios(spec: RuleSpec) -> list[Scenario]:
    """The heading and the flat scenario of one forecast spec."""
    horizon, window, for_ = spec.horizon // 60, spec.window // 60, spec.for_ // 60
    if spec.projection == "linear":
        scale, sign = max(1.0, abs(spec.threshold)), _direction(spec)
        start = spec.threshold - sign * 0.4 * scale
        cross = window + horizon  # the value reaches the limit here; the fit sees it coming `horizon` early
        step = (spec.threshold - start) / cross
        at = cross - horizon + for_ + 10
        if at >= cross:
            raise ScenarioError(f"{spec.name}: horizon must exceed for + 10m to fire before the limit")
        heading = tuple(round(start + step * m, 9) for m in range(at + 5))
        base = spec.threshold - sign * 0.3 * scale
        flat = tuple(round(base + 0.05 * scale * noise(m), 9) for m in range(at + 5))
        return [Scenario("heading", at + 5, at, True, heading), Scenario("flat", at + 5, at, False, flat)]
    if spec.projection == "pace":
        at = window + for_ + 10
        fast = 2 * spec.threshold / horizon  # per minute: twice the budget over the horizon
        slow = 0.5 * spec.threshold / horizon
        heading = tuple(round(fast * m, 9) for m in range(at + 5))
        total, flat_values = 0.0, []
        for m in range(at + 5):
            flat_values.append(round(total, 9))
            total += slow * (1 + 0.3 * noise(m))
        return [
            Scenario("heading", at + 5, at, True, heading),
            Scenario("flat", at + 5, at, False, tuple(flat_values)),
        ]
    # error_budget: the period's ratio reaches the budget HEALTHY_MINUTES into the burn; the projection
    # crosses it at 0.8 of that, so the alert fires ~0.1 of it (plus `for`) before the budget is gone.
    budget = spec.budget
    at = HEALTHY_MINUTES + int(0.9 * HEALTHY_MINUTES) + for_
    if for_ >= int(0.1 * HEALTHY_MINUTES):
        raise ScenarioError(f"{spec.name}: for must be under {int(0.1 * HEALTHY_MINUTES)}m for the scenario")
    rate = 100.0
    heading_phases = ((HEALTHY_MINUTES, rate, 0.5 * budget), (at + 5 - HEALTHY_MINUTES, rate, 1.5 * budget))
    flat_phases = tuple(
        (10, rate, round(0.7 * budget * (1 + 0.4 * noise(i)), 9)) for i in range((at + 5) // 10 + 1)
    )
    return [
        Scenario("heading", at + 5, at, True, phases=heading_phases),
        Scenario("flat", at + 5, at, False, phases=flat_phases),
    ]


def _metric_series(spec: RuleSpec, source: str, scenario: Scenario) -> SeriesSet:
    flavour = "collector" if source == "collector" else "sdk"
    if source == "collector" and spec.collector_metric:
        name = spec.collector_metric
    else:
        name = promql.prometheus_name(spec.metric, spec.unit, spec.metric_type, flavour=flavour)
    labels = {"job": "ai-secretary", "instance": "app-1"}
    labels.update({promql.label_name(k): v for k, v in spec.match.items()})
    labels.update({k: "test" for k in spec.by})
    out = SeriesSet()
    out.add(name, labels, " ".join(promql.num(v) for v in scenario.values))
    out.alert_labels = {k: "test" for k in spec.by}
    return out


def series_for(spec: RuleSpec, source: str, scenario: Scenario) -> SeriesSet:
    if forecast.on_metrics(spec):
        return _metric_series(spec, source, scenario)
    out = span_series(spec, source, Traffic(list(scenario.phases)))
    for item in out.series:  # the SDK's service_name join must outlive a day-long scenario
        if item["series"].startswith("target_info{"):
            item["values"] = f"1+0x{scenario.minutes + 10}"
    return out


def tests_for(spec: RuleSpec, source: str) -> list[dict[str, Any]]:
    """promtool cases: fires at the heading scenario's evaluation time, quiet on the flat one."""
    cases = []
    for scenario in scenarios(spec):
        series = series_for(spec, source, scenario)
        firing = {spec.name: [spec.severity]} if scenario.fires else {}
        cases.append(_case(spec, series, scenario.eval_minute, firing, source))
    return cases
