"""The dashboards decode under Grafana's own schemas (Grafana Foundation SDK, strict mode).

The strict decoder rejects unknown fields and wrong types anywhere: dashboard, variables, panels, the
timeseries/stat/bargauge options and field config, and the Prometheus queries. It also lists every
optional-in-practice field we leave out ("required field is missing"); Grafana fills those with its
defaults when it loads a dashboard, so they are not errors here.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.dashboards.conftest import COMMITTED

CHECKER_SOURCE = Path(__file__).with_name("grafana_schema")
DEFAULTED = "required field is missing from input"


@pytest.fixture(scope="module")
def checker(tmp_path_factory: pytest.TempPathFactory) -> Path:
    go = shutil.which("go") or "/usr/local/go/bin/go"
    if not Path(go).exists():
        pytest.skip("Go toolchain not installed (scripts/setup.sh installs it for the Go-built tools)")
    binary = tmp_path_factory.mktemp("grafana-schema") / "grafana_schema"
    build = subprocess.run(
        [go, "build", "-o", str(binary), "."],
        cwd=CHECKER_SOURCE,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert build.returncode == 0, build.stderr
    return binary


def problems(checker: Path, *files: Path) -> list[str]:
    result = subprocess.run([str(checker), *map(str, files)], capture_output=True, text=True, timeout=120)
    assert result.returncode in (0, 1), result.stderr
    return [line for line in result.stdout.splitlines() if line.strip() and DEFAULTED not in line]


def test_committed_dashboards_have_no_unknown_fields_or_wrong_types(checker: Path) -> None:
    files = sorted(COMMITTED.glob("*.json"))
    assert len(files) == 5
    assert problems(checker, *files) == []


def test_the_checker_reports_unknown_fields_and_wrong_types(checker: Path, tmp_path: Path) -> None:
    board = json.loads((COMMITTED / "otel-secretary-errors.json").read_text(encoding="utf-8"))
    panel = next(p for p in board["panels"] if p["type"] == "timeseries")
    panel["gridPos"]["h"] = "8"
    panel["options"]["legend"]["showLegendd"] = True
    panel["targets"][0]["exprr"] = panel["targets"][0]["expr"]
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(board), encoding="utf-8")
    found = "\n".join(problems(checker, broken))
    assert "gridPos.h" in found
    assert "unexpected field 'showLegendd'" in found
    assert "unexpected field 'exprr'" in found
