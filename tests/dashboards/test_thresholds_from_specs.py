"""Issue 14 item 2: a rule's dashboard home and the panels' threshold lines come from its spec."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from otel_secretary import dashboards
from otel_secretary.rules.spec import RuleSpec, SpecError, load_file
from tests.support.processes import REPO

CPU_RULE = """
rules:
  - name: {name}
    kind: threshold
    dashboard: {dashboard}
    metric: system.cpu.utilization
    unit: "1"
    match: {{state: idle}}
    invert: true
    value: {value}
    annotations:
      summary: "CPU busy"
      runbook_url: docs/runbooks/high-cpu.md
"""


@pytest.fixture
def spec_of(tmp_path: Path) -> Callable[..., list[RuleSpec]]:
    def build(
        name: str = "BusyHost", dashboard: str = "{board: business, panels: [cpu_busy]}", value: float = 0.7
    ):
        path = tmp_path / "spec.yaml"
        path.write_text(CPU_RULE.format(name=name, dashboard=dashboard, value=value), encoding="utf-8")
        return load_file(path)

    return build


def _panel(board: dict[str, Any], title: str) -> dict[str, Any]:
    return next(p for p in board["panels"] if p.get("title") == title)


def _steps(panel: dict[str, Any]) -> list[tuple[float, str]]:
    steps = panel["fieldConfig"]["defaults"]["thresholds"]["steps"][1:]
    return [(s["value"], s["color"]) for s in steps]


def test_the_spec_moves_a_rule_and_its_threshold_line(spec_of: Callable[..., list[RuleSpec]]) -> None:
    files = dashboards.render_all(spec_of(value=0.7))
    boards = {name: json.loads(text) for name, text in files.items()}
    business = boards["otel-secretary-business.json"]
    assert any(p.get("title", "").startswith("BusyHost") for p in business["panels"])
    assert "BusyHost" not in files["otel-secretary-overview.json"]
    assert _steps(_panel(boards["otel-secretary-overview.json"], "CPU busy")) == [(0.7, "red")]


def test_a_panel_without_its_rule_draws_no_line_and_names_no_rule(
    spec_of: Callable[..., list[RuleSpec]],
) -> None:
    overview = json.loads(dashboards.render_all(spec_of())["otel-secretary-overview.json"])
    share = _panel(overview, "5xx share")
    assert _steps(share) == []
    assert share["description"] == "Share of requests answered 5xx."


def test_shipped_panels_agree_with_the_shipped_rules() -> None:
    specs = {s.name: s for s in dashboards.load_specs()}
    boards = {n: json.loads(t) for n, t in dashboards.render_all().items()}
    overview, external = boards["otel-secretary-overview.json"], boards["otel-secretary-external.json"]
    assert _steps(_panel(overview, "CPU busy")) == [(specs["HighCPUUsage"].threshold, "red")]
    share = _panel(overview, "5xx share")
    assert _steps(share) == [(0.01, "orange"), (specs["HighErrorRate"].threshold, "red")]
    assert "HighErrorRate pages above 5% for 5 minutes" in share["description"]
    # The rule tickets above 0.9; the panel drew 0.95 before its line came from the spec.
    ratelimit = _panel(external, "Rate-limit used share")
    assert _steps(ratelimit)[-1] == (specs["OpenAIRateLimitHeadroom"].threshold, "red")
    # "> 0 critical errors in 5m" is red from the first error.
    critical = _panel(boards["otel-secretary-errors.json"], "Critical errors by category (time range)")
    assert _steps(critical) == [(1, "red")]


def test_dashboards_code_names_no_rule_and_no_alert_threshold() -> None:
    names = [s.name for s in dashboards.load_specs()]
    for module in ("_boards.py", "_thresholds.py", "_alerts.py", "_queries.py"):
        source = (REPO / "otel_secretary" / "dashboards" / module).read_text(encoding="utf-8")
        assert not [n for n in names if re.search(rf"\b{n}\b", source)], module


@pytest.mark.parametrize(
    ("dashboard", "message"),
    [
        ("{board: nowhere}", "'nowhere' is not one of overview, performance"),
        ("errors", "must be a mapping"),
        ("{board: errors, colour: red}", "unknown field"),
        ("{panels: [cpu-busy]}", "not a valid label name"),
    ],
)
def test_a_bad_dashboard_field_names_file_line_and_field(
    spec_of: Callable[..., list[RuleSpec]], dashboard: str, message: str
) -> None:
    with pytest.raises(SpecError) as caught:
        spec_of(dashboard=dashboard)
    assert message in str(caught.value)
    assert "spec.yaml:5: rules[0].dashboard" in str(caught.value)
