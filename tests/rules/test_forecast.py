"""Forecast rules (issue 17 item 3): the shipped specs' scenarios through the in-process engine, minute by
minute, and the engine's verdicts checked against Prometheus 2.42 with ``promtool test rules``."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from otel_secretary.rules import forecast, render
from otel_secretary.rules.engine import RuleEngine
from otel_secretary.rules.forecast_tests import Scenario, scenarios, series_for
from otel_secretary.rules.spec import RuleSpec, SpecError, default_rules_dir, load_file

from .conftest import Replay

SPECS = {spec.name: spec for spec in load_file(default_rules_dir() / "forecast.yaml")}
CASES = [(name, scenario) for name, spec in SPECS.items() for scenario in scenarios(spec)]


def _replay(spec: RuleSpec, scenario: Scenario) -> tuple[dict[int, bool], dict[int, float | None]]:
    """Firing state and alert value of the engine at every evaluation minute."""
    engine = RuleEngine([spec])
    firing: dict[int, bool] = {}
    values: dict[int, float | None] = {}

    def look(minute: int) -> None:
        alerts = [a for a in engine.alerts.values() if a.alertname == spec.name]
        firing[minute] = any(a.state == "firing" for a in alerts)
        values[minute] = alerts[0].value if alerts else None

    if forecast.on_metrics(spec):
        attributes = {**spec.match, **{label: "test" for label in spec.by}}
        for minute in range(scenario.minutes):
            engine.observe_metric(spec.metric, attributes, scenario.values[minute], minute * 60.0)
            engine.evaluate(minute * 60.0)
            look(minute)
        return firing, values
    replay = Replay(engine, service="test-service", span="GET /x", kind="server")
    look(0)
    for minutes, per_minute, bad_share in scenario.phases:
        for _ in range(minutes):
            if replay.minute >= scenario.minutes:
                break
            replay.run(1, per_minute, bad_share=bad_share)
            look(replay.minute)
    return firing, values


def _safe_side(spec: RuleSpec, scenario: Scenario, minute: int) -> None:
    """At ``minute`` the limit itself is not crossed yet: the forecast is early, not late."""
    if spec.projection == "linear":
        value = scenario.values[minute]
        assert (value < spec.threshold) if spec.op.startswith(">") else (value > spec.threshold)
    elif spec.projection == "pace":
        assert scenario.values[minute] < 0.05 * spec.threshold  # a few % of the monthly budget spent
    else:
        bad = total = 0.0
        left = minute
        for minutes, per_minute, share in scenario.phases:
            taken = min(minutes, left)
            bad, total, left = bad + taken * per_minute * share, total + taken * per_minute, left - taken
        assert bad / total < spec.budget  # the period's error ratio is still inside the budget


@pytest.mark.parametrize(("name", "scenario"), CASES, ids=[f"{n}-{s.name}" for n, s in CASES])
def test_engine_fires_before_the_limit_and_stays_quiet_on_a_noisy_flat_series(
    name: str, scenario: Scenario
) -> None:
    spec = SPECS[name]
    firing, values = _replay(spec, scenario)
    if not scenario.fires:
        assert not any(firing.values()), (
            f"{name} fired on a flat series at {min(m for m, f in firing.items() if f)}"
        )
        return
    first = min(m for m, state in firing.items() if state)
    assert first <= scenario.eval_minute and firing[scenario.eval_minute]
    _safe_side(spec, scenario, scenario.eval_minute)
    _safe_side(spec, scenario, first)
    assert values[scenario.eval_minute] is not None


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool (apt: prometheus) not installed")
@pytest.mark.parametrize("name", sorted(SPECS))
def test_prometheus_agrees_with_the_engine_minute_by_minute(name: str, tmp_path: Path) -> None:
    """The engine's state at checkpoints (every 30 min, and around its first firing) as promtool
    expectations: promtool passing means Prometheus fires at the same minute, on both scenarios."""
    spec = SPECS[name]
    cases = []
    for scenario in scenarios(spec):
        firing, _ = _replay(spec, scenario)
        fired = [m for m, state in firing.items() if state]
        checkpoints = set(range(30, scenario.minutes - 1, 30)) | {scenario.eval_minute}
        if fired:
            checkpoints |= {fired[0] - 1, fired[0], fired[0] + 1}
        series = series_for(spec, "collector", scenario)
        checks = [
            {
                "eval_time": f"{minute}m",
                "alertname": spec.name,
                "exp_alerts": (
                    [render._expected(spec, series.alert_labels, spec.severity, "collector")]
                    if firing.get(minute)
                    else []
                ),
            }
            for minute in sorted(m for m in checkpoints if 0 < m < scenario.minutes)
        ]
        cases.append({"interval": "1m", "input_series": series.series, "alert_rule_test": checks})
    (tmp_path / "rules.yml").write_text(render.dump(render.render_rules([spec], "collector")))
    (tmp_path / "test.yml").write_text(
        render.dump({"rule_files": ["rules.yml"], "evaluation_interval": "1m", "tests": cases})
    )
    result = subprocess.run(
        ["promtool", "test", "rules", "test.yml"], cwd=tmp_path, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]


def test_a_forecast_spec_names_its_mistakes(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    base = """rules:
  - name: Bad
    kind: forecast
    {body}
    annotations: {{summary: s, runbook_url: r}}
"""
    for body, message in [
        (
            "projection: cubic\n    horizon: 1h",
            "bad.yaml:4: rules[0].projection: 'cubic' is not one of linear",
        ),
        ("projection: linear\n    metric: m\n    value: 1", "rules[0].horizon: is required"),
        ("projection: linear\n    horizon: 30s\n    metric: m\n    value: 1", "horizon: must be at least 1m"),
        (
            "projection: pace\n    horizon: 30d\n    metric: m\n    value: 1\n    op: '<'",
            "rules[0].op: unknown field",
        ),
        ("projection: error_budget\n    horizon: 3d\n    objective: 99", "rules[0].selector: is required"),
    ]:
        path.write_text(base.format(body=body))
        with pytest.raises(SpecError) as caught:
            load_file(path)
        assert message in str(caught.value), (body, str(caught.value))
