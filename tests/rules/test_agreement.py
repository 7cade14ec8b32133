"""Agreement: the same synthetic series through `promtool test rules` and through the in-process engine.

The engine's firing set at every evaluation minute becomes the promtool expectation; promtool passing
means Prometheus 2.42 fires and resolves at exactly the same evaluation times.

Known difference (issue 12 item 1): an *undefined* severity (no tier true, one tier 0/0) holds the
engine's alert in whatever state it is, pending included. The generated PromQL can only hold a *firing*
alert (its hold term reads the previous evaluation's ``ALERTS{alertstate="firing"}``); a pending alert is
dropped by Prometheus on an undefined evaluation and restarts its ``for`` when data returns. SLO burn
tiers take no ``for`` unless a spec sets one, so the shipped rules never differ.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from otel_secretary.rules import render
from otel_secretary.rules.engine import RuleEngine
from otel_secretary.rules.spec import RuleSpec

from .conftest import ANNOTATIONS, Replay

pytestmark = pytest.mark.skipif(
    shutil.which("promtool") is None, reason="promtool (apt: prometheus) not installed"
)

SELECTOR = "    selector: {service: api, span_name: GET /x, span_kind: server}\n"
SPECS = {
    "slo": """
rules:
  - name: Api
    kind: slo
    objective: 99
    keep_firing_for: 5m
    no_data: false
"""
    + SELECTOR,
    "error_rate": """
rules:
  - name: Errors
    kind: error_rate
    threshold: 0.1
    window: 5m
    for: 3m
    keep_firing_for: 2m
"""
    + SELECTOR,
    "latency": """
rules:
  - name: Slow
    kind: latency
    latency_threshold: 1s
    threshold: 0.25
    window: 10m
    for: 2m
"""
    + SELECTOR,
}
# (minutes, events per minute, bad share): healthy, outage, recovery, slow burn, recovery.
PLAN = [(60, 100.0, 0.0), (20, 100.0, 1.0), (60, 100.0, 0.0), (60, 100.0, 0.3), (40, 100.0, 0.0)]


# Issue 12 item 4: `for` on SLO tiers, a rule-level minimum of events per tier and a per-tier override.
# page_fast needs 3,000 events in its hour, which ten healthy minutes and the outage reach at minute 30.
OPTIONS_SPEC = (
    """
rules:
  - name: Opts
    kind: slo
    objective: 99
    for: 2m
    min_events: 500
    tiers: {page_fast: {min_events: 3000}, page_slow: false}
    send_resolved: false
    no_data: false
"""
    + SELECTOR
)
LOW_PLAN = [(10, 100.0, 0.0), (30, 100.0, 1.0), (60, 100.0, 0.0)]


def test_spec_options_agree_for_on_slo_and_per_tier_minimum_events(
    make_specs: Callable[[str], list[RuleSpec]], tmp_path: Path
) -> None:
    (spec,) = make_specs(OPTIONS_SPEC + ANNOTATIONS)
    replay = _agree(spec, LOW_PLAN, tmp_path)
    first_page = min(m for m, fired in replay.firing.items() if ("OptsBudgetBurn", "page") in fired)
    assert first_page >= 30 + 2, "the page waits for 3,000 events in its long window, then for 2m"


# A traffic gap right after an outage (issue 12 item 1): six healthy hours keep page_slow below its
# threshold while page_fast burns; then no events at all for 15 minutes (page_fast's short window is 0/0,
# NaN in Prometheus), then healthy traffic. Neither side may resolve during the gap; both resolve after.
GAP_PLAN = [(360, 100.0, 0.0), (10, 100.0, 1.0), (15, 0.0, 0.0), (40, 100.0, 0.0)]


@pytest.mark.parametrize("kind", sorted(SPECS))
def test_promtool_and_engine_fire_and_resolve_at_the_same_evaluations(
    kind: str, make_specs: Callable[[str], list[RuleSpec]], tmp_path: Path
) -> None:
    (spec,) = make_specs(SPECS[kind] + ANNOTATIONS)
    _agree(spec, PLAN, tmp_path)


def test_traffic_gap_after_an_outage_holds_the_page_on_both_sides(
    make_specs: Callable[[str], list[RuleSpec]], tmp_path: Path
) -> None:
    (spec,) = make_specs(SPECS["slo"] + ANNOTATIONS)
    replay = _agree(spec, GAP_PLAN, tmp_path)
    outage_end, gap_end = 370, 385
    assert all(("ApiBudgetBurn", "page") in replay.firing[m] for m in range(outage_end, gap_end + 1))
    assert [kind for _, kind, _ in replay.kinds("page")] == ["trigger", "resolve"]
    resolved = next(m for m, kind, _ in replay.kinds("page") if kind == "resolve")
    assert resolved > gap_end


def _agree(spec: RuleSpec, plan: list[tuple[int, float, float]], tmp_path: Path) -> Replay:
    replay = Replay(RuleEngine([spec]), service="api", span="GET /x", kind="server")
    for minutes, per_minute, bad in plan:
        replay.run(minutes, per_minute, bad_share=bad, duration=0.5, bad_duration=1.2)
    transitions = [m for m in range(2, replay.minute + 1) if replay.firing[m] != replay.firing[m - 1]]
    assert len(transitions) >= 2, "the plan must make the rule fire and resolve"

    series = render.span_series(spec, "collector", render.Traffic(list(plan)))
    checks = []
    for minute in range(1, replay.minute + 1):
        firing = replay.firing[minute]
        for name in spec.alert_names:
            expected = [
                render._expected(spec, series.alert_labels, sev, "collector")
                for (alert, sev) in sorted(firing)
                if alert == name
            ]
            checks.append({"eval_time": f"{minute}m", "alertname": name, "exp_alerts": expected})
    (tmp_path / "rules.yml").write_text(render.dump(render.render_rules([spec], "collector")))
    test_doc = {
        "rule_files": ["rules.yml"],
        "evaluation_interval": "1m",
        "tests": [{"interval": "1m", "input_series": series.series, "alert_rule_test": checks}],
    }
    (tmp_path / "test.yml").write_text(render.dump(test_doc))
    result = subprocess.run(
        ["promtool", "test", "rules", "test.yml"], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return replay
