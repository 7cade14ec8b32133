"""The overflow series (``otel_metric_overflow="true"``, everything beyond a cardinality limit) never
fires or shapes an alert: every generated promtool test, its input series moved into the overflow
series, must expect no alert at all. Moving them back makes the same tests fire, so the check can fail.

Issue 16 item 1 ("the dashboards and rules ignore the overflow series")."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from otel_secretary.rules import promql

from .conftest import REPO

GENERATED = REPO / "generated"
pytestmark = pytest.mark.skipif(
    shutil.which("promtool") is None, reason="promtool (apt: prometheus) not installed"
)


def _into_overflow(series: str) -> str:
    """The same series, labelled as the overflow series. Its other labels stay: the rules must leave it
    out by the overflow label itself, not because a real overflow series happens to lack a label."""
    if series.startswith("target_info"):
        return series  # the resource, not a metric stream: never in overflow
    return re.sub(r"\{", "{" + promql.OVERFLOW_LABEL + '="true", ', series, count=1)


def _rewrite(source: str, work: Path, *, overflow: bool) -> int:
    """Copies the source's rule files and tests into ``work`` with every expected alert removed; returns
    how many alert expectations there were."""
    expected = 0
    for rules in (GENERATED / source).glob("*.rules.yml"):
        shutil.copy(rules, work / rules.name)
    for test in (GENERATED / source).glob("*.test.yml"):
        doc: dict[str, Any] = yaml.safe_load(test.read_text())
        for case in doc["tests"]:
            case.pop("promql_expr_test", None)
            if overflow:
                for item in case["input_series"]:
                    item["series"] = _into_overflow(item["series"])
            for check in case.get("alert_rule_test", []):
                expected += len(check["exp_alerts"])
                check["exp_alerts"] = []
        (work / test.name).write_text(yaml.safe_dump(doc))
    return expected


def _promtool(work: Path) -> subprocess.CompletedProcess[str]:
    tests = sorted(p.name for p in work.glob("*.test.yml"))
    return subprocess.run(
        ["promtool", "test", "rules", *tests], cwd=work, capture_output=True, text=True, timeout=600
    )


@pytest.mark.parametrize("source", promql.SOURCES)
def test_no_rule_fires_on_the_overflow_series(source: str, tmp_path: Path) -> None:
    expected = _rewrite(source, tmp_path, overflow=True)
    assert expected >= 20, "the generated tests should expect alerts to start with"
    result = _promtool(tmp_path)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


@pytest.mark.parametrize("source", promql.SOURCES)
def test_the_same_series_without_the_overflow_label_do_fire(source: str, tmp_path: Path) -> None:
    _rewrite(source, tmp_path, overflow=False)
    result = _promtool(tmp_path)
    assert result.returncode != 0
    # Every rule file with an expected alert now reports an unexpected one.
    unexpected = set(re.findall(r"alertname: (\w+)", result.stdout + result.stderr))
    assert len(unexpected) >= 10, (result.stdout + result.stderr)[-3000:]
