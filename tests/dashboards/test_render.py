"""The committed dashboards are current, well formed for Grafana, and cover every alert rule."""

from __future__ import annotations

import itertools
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from otel_secretary import dashboards
from otel_secretary.cli import app
from tests.dashboards.conftest import COMMITTED
from tests.support.processes import REPO

BUILTIN_VARIABLES = {"__rate_interval", "__range", "__interval"}


def panels(board: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in board["panels"] if p["type"] != "row"]


def test_committed_files_are_byte_identical_to_a_fresh_render(rendered: dict[str, str]) -> None:
    committed = {p.name: p.read_text(encoding="utf-8") for p in COMMITTED.glob("*.json")}
    assert sorted(committed) == sorted(rendered), "run `make generate` (otel-secretary generate)"
    stale = [name for name in rendered if committed[name] != rendered[name]]
    assert not stale, f"stale: {stale}; run `make generate` (otel-secretary generate)"


def test_rendering_twice_gives_the_same_bytes(rendered: dict[str, str]) -> None:
    assert dashboards.render_all() == rendered


def test_the_seed_dashboards_exist(boards: dict[str, dict[str, Any]]) -> None:
    titles = {b["title"] for b in boards.values()}
    for seed in ("System Overview", "Application Performance", "Error Monitoring", "Business Metrics"):
        assert any(t.endswith(seed) for t in titles), seed
    assert len({b["uid"] for b in boards.values()}) == len(boards)


@pytest.mark.parametrize("name", sorted(dashboards.render_all()))
def test_grafana_shape(boards: dict[str, dict[str, Any]], name: str) -> None:
    board = boards[name]
    assert board["schemaVersion"] == 39
    assert board["id"] is None
    assert board["uid"] == name.removesuffix(".json") and len(board["uid"]) <= 40
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    assert variables["service"]["definition"] == "label_values(service_name)"
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    for panel in panels(board):
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        assert panel["targets"], panel["title"]
        assert all(t["datasource"] == panel["datasource"] for t in panel["targets"])
        assert len({t["refId"] for t in panel["targets"]}) == len(panel["targets"])
        assert panel["description"], panel["title"]


@pytest.mark.parametrize("name", sorted(dashboards.render_all()))
def test_panels_do_not_overlap_and_fit_the_grid(boards: dict[str, dict[str, Any]], name: str) -> None:
    grids = [(p["title"], p["gridPos"]) for p in boards[name]["panels"]]
    for title, g in grids:
        assert g["x"] >= 0 and g["y"] >= 0 and g["w"] > 0 and g["h"] > 0, title
        assert g["x"] + g["w"] <= 24, title
    for (ta, a), (tb, b) in itertools.combinations(grids, 2):
        apart = (
            a["x"] + a["w"] <= b["x"]
            or b["x"] + b["w"] <= a["x"]
            or a["y"] + a["h"] <= b["y"]
            or b["y"] + b["h"] <= a["y"]
        )
        assert apart, f"{ta!r} overlaps {tb!r}"


@pytest.mark.parametrize("name", sorted(dashboards.render_all()))
def test_every_variable_a_query_uses_is_defined(boards: dict[str, dict[str, Any]], name: str) -> None:
    board = boards[name]
    defined = {v["name"] for v in board["templating"]["list"]} | BUILTIN_VARIABLES
    for panel in panels(board):
        for target in panel["targets"]:
            used = set(re.findall(r"\$\{?(\w+)", target["expr"]))
            assert used <= defined, f"{panel['title']}: {used - defined}"


def test_runbook_links_name_existing_runbooks(boards: dict[str, dict[str, Any]]) -> None:
    linked = 0
    for board in boards.values():
        for panel in panels(board):
            for link in panel.get("links", []):
                match = re.fullmatch(r"\$\{runbook_base\}/([\w.-]+\.md)", link["url"])
                assert match, link
                assert (REPO / "docs" / "runbooks" / match.group(1)).is_file(), link
                linked += 1
    assert linked >= 20


def test_every_alert_rule_has_a_panel_with_its_threshold(boards: dict[str, dict[str, Any]]) -> None:
    by_title = {p["title"]: p for b in boards.values() for p in panels(b)}
    for spec in dashboards.load_specs():
        matching = [p for t, p in by_title.items() if t.startswith(f"{spec.name}: ")]
        assert len(matching) == 1, spec.name
        steps = matching[0]["fieldConfig"]["defaults"]["thresholds"]["steps"]
        assert len(steps) >= 2, spec.name  # a base colour plus the alert's threshold
        assert matching[0]["fieldConfig"]["defaults"]["custom"]["thresholdsStyle"]["mode"] == "line"


def test_an_unknown_rule_still_gets_a_panel_on_the_overview() -> None:
    base = dashboards.load_specs()
    spec = next(s for s in base if s.name == "HighCPUUsage")
    extra = type(spec)(**{**spec.__dict__, "name": "BrandNewRule"})
    files = dashboards.render_all([*base, extra])
    assert '"title": "BrandNewRule: system.cpu.utilization"' in files["otel-secretary-overview.json"]


def test_cli_render_then_check(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "dashboards"
    (out).mkdir()
    (out / "otel-secretary-removed.json").write_text("{}", encoding="utf-8")
    (out / "someone-elses.json").write_text("{}", encoding="utf-8")
    result = runner.invoke(
        app, ["dashboards", "render", "--out", str(out), "--runbook-base", "https://docs.example.com/rb"]
    )
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in out.glob("*.json"))
    assert "otel-secretary-removed.json" not in names and "someone-elses.json" in names
    assert "https://docs.example.com/rb" in (out / "otel-secretary-errors.json").read_text(encoding="utf-8")
    ok = runner.invoke(
        app, ["dashboards", "check", "--out", str(out), "--runbook-base", "https://docs.example.com/rb"]
    )
    assert ok.exit_code == 0, ok.output
    (out / "otel-secretary-errors.json").write_text("{}", encoding="utf-8")
    stale = runner.invoke(
        app, ["dashboards", "check", "--out", str(out), "--runbook-base", "https://docs.example.com/rb"]
    )
    assert stale.exit_code == 1
    assert "otel-secretary-errors.json" in stale.output


GRAFANA = REPO / "collector-config" / "grafana"


def test_provisioning_points_grafana_at_prometheus_and_the_dashboards_folder() -> None:
    datasources = yaml.safe_load((GRAFANA / "provisioning/datasources/prometheus.yaml").read_text())
    (prometheus,) = datasources["datasources"]
    assert prometheus["type"] == "prometheus"  # what the dashboards' datasource variable lists
    assert prometheus["url"] == "http://127.0.0.1:9090"  # compose runs with host networking
    providers = yaml.safe_load((GRAFANA / "provisioning/dashboards/otel-secretary.yaml").read_text())
    (provider,) = providers["providers"]
    assert provider["type"] == "file" and provider["allowUiUpdates"] is False
    readme = (GRAFANA / "README.md").read_text(encoding="utf-8")
    snippet = yaml.safe_load(readme.split("```yaml\n", 1)[1].split("```", 1)[0])
    mounts = dict(v.removesuffix(":ro").split(":", 1) for v in snippet["grafana"]["volumes"])
    assert mounts["../generated/dashboards"] == provider["options"]["path"]
    assert mounts["./grafana/provisioning"] == "/etc/grafana/provisioning"
    assert (GRAFANA.parent / "../generated/dashboards").resolve() == COMMITTED.resolve()


def test_latency_and_error_graphs_ask_for_exemplars(boards: dict[str, dict[str, Any]]) -> None:
    """Grafana fetches exemplars (dots linking to the trace in Jaeger) only for targets that say so."""
    asked, latency_graphs = 0, 0
    for board in boards.values():
        for panel in board["panels"]:
            for target in panel.get("targets", []):
                if target["instant"]:
                    assert not target["exemplar"], (board["uid"], panel["title"])
                    continue
                if "histogram_quantile" in target["expr"]:
                    latency_graphs += 1
                    assert target["exemplar"], (board["uid"], panel["title"], target["expr"])
                if (
                    "_bucket" not in target["expr"]
                    and "traces_span_metrics_calls_total" not in target["expr"]
                ):
                    assert not target["exemplar"], (board["uid"], panel["title"], target["expr"])
                asked += bool(target["exemplar"])
    assert latency_graphs >= 10 and asked >= latency_graphs, (latency_graphs, asked)
