"""`Stack` against the real programs: up/status/down, idempotent up, and a failing component reported with
its log and rolled back. (The pipeline itself is exercised by tests/e2e.)"""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import pytest
import yaml
from typer.testing import CliRunner

from otel_secretary.cli import app
from otel_secretary.stack import Stack, StackError, StackPorts
from otel_secretary.stack.binaries import BinaryNotFound, find, repo_root
from otel_secretary.stack.components import COMPONENTS


@pytest.fixture(autouse=True)
def _binaries() -> None:
    for component in COMPONENTS:
        try:
            find(component.binary)
        except BinaryNotFound as exc:
            pytest.skip(str(exc))


def test_up_status_down_and_only_our_processes_are_stopped(tmp_path: Path) -> None:
    stack = Stack(tmp_path / "state", StackPorts.free())
    try:
        statuses = stack.up(build=False, timeout=60)
        assert [s.name for s in statuses] == ["jaeger", "alertmanager", "otelcol", "prometheus"]
        assert all(s.running and s.pid and (s.rss_bytes or 0) > 0 for s in statuses)
        assert httpx.get(f"{stack.prometheus_url}/-/ready", timeout=5).status_code == 200
        pids = {s.name: s.pid for s in statuses}

        # A second `up` (e.g. from another shell) finds everything running and starts nothing new.
        again = Stack(tmp_path / "state").up(build=False, timeout=60)
        assert {s.name: s.pid for s in again} == pids
        assert (tmp_path / "state" / "logs" / "otelcol.log").read_text().count("\n===== ") == 1
        # Asking the running state folder for a stack on other ports is refused, not half-applied.
        with pytest.raises(StackError, match="already running"):
            Stack(tmp_path / "state", StackPorts.free()).up(build=False)
        assert {s.name: s.pid for s in stack.status()} == pids
    finally:
        stopped = Stack(tmp_path / "state").down()  # a fresh object: reads ports and pid files back
    assert sorted(stopped) == sorted(pids)
    assert not any(s.running for s in stack.status())
    assert Stack(tmp_path / "state").down() == []


def test_a_component_that_fails_to_start_is_reported_with_its_log_and_the_rest_rolled_back(
    tmp_path: Path,
) -> None:
    config_dir = tmp_path / "config"
    shutil.copytree(repo_root() / "collector-config", config_dir, ignore=shutil.ignore_patterns("generated"))
    otelcol = config_dir / "otelcol.yaml"
    otelcol.write_text(
        otelcol.read_text().replace("exporters: [otlp_grpc/jaeger]", "exporters: [no_such/exporter]")
    )
    stack = Stack(tmp_path / "state", StackPorts.free(), config_dir=config_dir)
    with pytest.raises(StackError) as failure:
        stack.up(build=False, timeout=30)
    message = str(failure.value)
    assert message.startswith("otelcol exited")
    assert "no_such" in message  # the collector's own complaint, quoted from its log
    # Jaeger and Alertmanager had started; they were stopped again, and Prometheus never started.
    assert not any(s.running for s in stack.status())
    assert not (tmp_path / "state" / "logs" / "prometheus.log").exists()


def test_cli_status_reports_a_stopped_stack_and_exits_nonzero(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["stack", "status", "--state-dir", str(tmp_path)])
    assert result.exit_code == 1
    assert [line.split()[:2] for line in result.output.splitlines()] == [
        ["jaeger", "stopped"],
        ["alertmanager", "stopped"],
        ["otelcol", "stopped"],
        ["prometheus", "stopped"],
    ]
    result = CliRunner().invoke(app, ["stack", "down", "--state-dir", str(tmp_path)])
    assert result.exit_code == 0 and "nothing was running" in result.output


def test_cli_up_with_the_generated_routing_runs_alertmanager_on_it(tmp_path: Path) -> None:
    state = tmp_path / "state"
    slack = "https://hooks.slack.example.org/services/T0/B0/FAKE-FOR-TESTS"
    try:
        result = CliRunner().invoke(
            app,
            [
                "stack",
                "up",
                "--state-dir",
                str(state),
                "--free-ports",
                "--no-build",
                "--generated-routing",
                "--slack-url",
                slack,
            ],
        )
        assert result.exit_code == 0, result.output
        assert slack not in result.output and "Slack webhook configured (not shown)" in result.output
        stack = Stack(state)
        # Alertmanager serves the generated routing tree: pages to PagerDuty and Slack, tickets to both
        # ticket receivers, with the local PagerDuty stand-in and the given Slack URL.
        status = httpx.get(f"{stack.alertmanager_url}/api/v2/status", timeout=5).json()
        config = yaml.safe_load(status["config"]["original"])
        assert [r["receiver"] for r in config["route"]["routes"]] == [
            "pagerduty",
            "slack-pages",
            "slack-tickets",
            "email-tickets",
        ]
        assert config["global"]["pagerduty_url"] == f"http://127.0.0.1:{stack.ports.alert_webhook}/pagerduty"
        assert config["inhibit_rules"][0]["source_matchers"] == ['severity="page"']
    finally:
        Stack(state).down()
