"""Rendering: no drift, loads in Prometheus 2.42, passes promtool/amtool, covers every alert."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from otel_secretary.cli.rules import app
from otel_secretary.rules import promql, render
from otel_secretary.rules.spec import default_rules_dir, load_dir

from .conftest import ANNOTATIONS, REPO

RULES = default_rules_dir()
GENERATED = REPO / "generated"
tools = pytest.mark.skipif(
    shutil.which("promtool") is None or shutil.which("amtool") is None,
    reason="promtool/amtool (apt: prometheus prometheus-alertmanager) not installed",
)


def test_generated_files_match_the_specs_drift_check() -> None:
    expected = render.render_all(load_dir(RULES))
    on_disk = {
        str(p.relative_to(GENERATED)) for p in GENERATED.rglob("*.yml") if p.parent.name != "dashboards"
    }
    assert on_disk == set(expected), "run `make generate` (otel-secretary generate)"
    for name, content in expected.items():
        assert (GENERATED / name).read_text() == content, (
            f"{name} is stale: run `make generate` (otel-secretary generate)"
        )


def test_package_ships_the_same_specs_as_the_repo() -> None:
    shipped = {p.name: p.read_text() for p in default_rules_dir().glob("*.yaml")}
    assert shipped == {p.name: p.read_text() for p in RULES.glob("*.yaml")}


def test_output_respects_prometheus_2_42_limits() -> None:
    for path in GENERATED.glob("*/*.rules.yml"):
        for group in yaml.safe_load(path.read_text())["groups"]:
            assert set(group) <= {"name", "interval", "rules"}, f"{path}: group-level fields 2.42 rejects"
            for rule in group["rules"]:
                if "record" in rule:
                    assert "keep_firing_for" not in rule and "for" not in rule, path


def test_generated_promtool_tests_exercise_every_alert() -> None:
    for source_dir in sorted(p for p in GENERATED.iterdir() if p.is_dir()):
        for rules_path in source_dir.glob("*.rules.yml"):
            alerts = {
                r["alert"]
                for g in yaml.safe_load(rules_path.read_text())["groups"]
                for r in g["rules"]
                if "alert" in r
            }
            tests = yaml.safe_load(
                rules_path.with_name(rules_path.name.replace(".rules.", ".test.")).read_text()
            )
            fired = {
                check["alertname"]
                for case in tests["tests"]
                for check in case["alert_rule_test"]
                if check["exp_alerts"]
            }
            quiet = {
                check["alertname"]
                for case in tests["tests"]
                for check in case["alert_rule_test"]
                if not check["exp_alerts"]
            }
            assert alerts and alerts == fired, f"{rules_path}: alerts never shown firing: {alerts - fired}"
            assert alerts <= quiet, f"{rules_path}: alerts never shown quiet: {alerts - quiet}"


@tools
def test_rules_check_runs_promtool_and_amtool() -> None:
    result = CliRunner().invoke(app, ["check"], env={"OTEL_SERVICE_NAME": None})  # the committed files
    assert result.exit_code == 0, result.output
    rule_files = len(list((GENERATED / "collector").glob("*.rules.yml")))
    assert rule_files >= 18
    assert f"collector: {rule_files} rule files" in result.output and "rules check passed" in result.output


@tools
def test_promtool_rejects_a_broken_expectation(tmp_path: Path) -> None:
    """The generated tests can fail: flip one expectation and promtool must say so."""
    for path in (GENERATED / "collector").glob("HighErrorRate.*"):
        shutil.copy(path, tmp_path / path.name)
    test_file = tmp_path / "HighErrorRate.test.yml"
    doc = yaml.safe_load(test_file.read_text())
    doc["tests"][0]["alert_rule_test"][0]["exp_alerts"] = []
    test_file.write_text(yaml.safe_dump(doc))
    result = subprocess.run(["promtool", "test", "rules", test_file.name], cwd=tmp_path, capture_output=True)
    assert result.returncode != 0


@tools
@pytest.mark.parametrize(
    ("labels", "receivers"),
    [
        ("severity=page", "pagerduty,slack-pages"),
        ("severity=ticket", "slack-tickets,email-tickets"),
        ("severity=info", "slack-tickets"),
    ],
)
def test_alertmanager_routes_by_severity(labels: str, receivers: str) -> None:
    result = subprocess.run(
        ["amtool", "config", "routes", "test", "--config.file", str(GENERATED / "alertmanager.yml"), labels],
        capture_output=True,
        text=True,
    )
    assert result.stdout.strip() == receivers, result.stderr


def test_alertmanager_inhibits_tickets_by_pages_on_same_rule_and_span() -> None:
    config = yaml.safe_load((GENERATED / "alertmanager.yml").read_text())
    (inhibit,) = config["inhibit_rules"]
    assert inhibit["source_matchers"] == ['severity="page"'] and inhibit["target_matchers"] == [
        'severity="ticket"'
    ]
    assert {"alertname", "rule", "service_name", "span_name"} <= set(inhibit["equal"])


def test_cli_alertmanager_writes_a_valid_config_with_given_endpoints(tmp_path: Path) -> None:
    out = tmp_path / "am.yml"
    result = CliRunner().invoke(
        app,
        [
            "alertmanager",
            "--out",
            str(out),
            "--slack-url",
            "http://127.0.0.1:9/slack",
            "--email-to",
            "ops@example.org",
        ],
    )
    assert result.exit_code == 0, result.output
    config = yaml.safe_load(out.read_text())
    slack = next(r for r in config["receivers"] if r["name"] == "slack-pages")
    assert slack["slack_configs"][0]["api_url"] == "http://127.0.0.1:9/slack"


def test_cli_alertmanager_applies_the_specs_routing_as_render_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The standalone command reads ``./rules`` (a ``.yml`` file here) and its ``routing:`` block."""
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "team.yml").write_text(
        "routing:\n  repeat_interval: {page: 10m, ticket: 2h}\n"
        "rules:\n  - name: Cost\n    kind: threshold\n    severity: ticket\n    metric: app.genai.cost\n"
        "    unit: USD\n    type: counter\n    function: increase\n    window: 1h\n    aggregate: sum\n"
        "    value: 5\n" + ANNOTATIONS
    )
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["alertmanager", "--out", "am.yml"])
    assert result.exit_code == 0, result.output
    rendered = CliRunner().invoke(app, ["render", "--out", "out"])
    assert rendered.exit_code == 0, rendered.output
    standalone = yaml.safe_load((tmp_path / "am.yml").read_text())
    routes = standalone["route"]["routes"]
    intervals = {r["matchers"][0]: r["repeat_interval"] for r in routes if "repeat_interval" in r}
    assert intervals == {'severity="page"': "10m", 'severity="ticket"': "2h"}, standalone["route"]
    assert standalone == yaml.safe_load((tmp_path / "out" / "alertmanager.yml").read_text())


@pytest.mark.parametrize(
    ("otel", "unit", "kind", "flavour", "expected"),
    [
        ("app.genai.cost", "USD", "counter", "sdk", "app_genai_cost_USD_total"),
        ("app.errors", "{error}", "counter", "sdk", "app_errors_total"),
        ("system.cpu.utilization", "1", "gauge", "sdk", "system_cpu_utilization"),
        ("system.cpu.utilization", "1", "gauge", "collector", "system_cpu_utilization_ratio"),
        ("http.server.request.duration", "s", "histogram", "sdk", "http_server_request_duration_seconds"),
        ("db.client.connections.usage", "{connection}", "gauge", "sdk", "db_client_connections_usage"),
        ("system.cpu.load_average.15m", "{thread}", "gauge", "collector", "system_cpu_load_average_15m"),
    ],
)
def test_prometheus_names_follow_the_exporters(
    otel: str, unit: str, kind: str, flavour: str, expected: str
) -> None:
    assert promql.prometheus_name(otel, unit, kind, flavour=flavour) == expected


def test_le_matcher_accepts_go_and_python_float_forms() -> None:
    assert promql.le_matcher(1.0, unit_ms=False) == ("le", "=~", r"1|1\.0")
    assert promql.le_matcher(2.0, unit_ms=True) == ("le", "=~", r"2000|2000\.0")
    assert promql.le_matcher(0.25, unit_ms=False) == ("le", "=", "0.25")


@pytest.mark.integration
@pytest.mark.skipif(shutil.which("prometheus") is None, reason="prometheus (apt) not installed")
def test_real_prometheus_loads_and_evaluates_every_generated_group(tmp_path: Path) -> None:
    import socket
    import time

    import httpx

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # The generated files unchanged except the group interval, so the test need not wait a minute.
    for path in GENERATED.glob("*/*.rules.yml"):
        target = tmp_path / "rules" / path.parent.name / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(path.read_text().replace("  interval: 1m\n", "  interval: 1s\n"))
    config = tmp_path / "prometheus.yml"
    # Prometheus allows globs only in the last path element.
    config.write_text(f"rule_files: ['{tmp_path}/rules/collector/*.yml', '{tmp_path}/rules/sdk/*.yml']\n")
    log = open(tmp_path / "prometheus.log", "w")  # noqa: SIM115 (closed below)
    process = subprocess.Popen(
        [
            "prometheus",
            f"--config.file={config}",
            f"--web.listen-address=127.0.0.1:{port}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
        ],
        stdout=log,
        stderr=log,
    )
    try:
        groups: list[dict[str, object]] = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and process.poll() is None:
            try:
                groups = httpx.get(f"http://127.0.0.1:{port}/api/v1/rules", timeout=1).json()["data"][
                    "groups"
                ]
                rules = [r for g in groups for r in g["rules"]]  # type: ignore[attr-defined]
                if rules and all(r.get("lastEvaluation", "").startswith("20") for r in rules):
                    break
            except (httpx.HTTPError, ValueError, KeyError):
                pass
            time.sleep(0.5)
        expected = sum(len(yaml.safe_load(p.read_text())["groups"]) for p in GENERATED.glob("*/*.rules.yml"))
        assert len(groups) == expected, (tmp_path / "prometheus.log").read_text()[-2000:]
        unhealthy = [
            (g["name"], r["name"], r.get("lastError"))
            for g in groups
            for r in g["rules"]  # type: ignore[attr-defined]
            if r["health"] != "ok"
        ]
        assert unhealthy == []
    finally:
        process.terminate()
        process.wait(10)
        log.close()
