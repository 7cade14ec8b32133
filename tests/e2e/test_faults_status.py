"""`otel-secretary stack status` shows telemetry an app lost, from the app's own counter carried through
the real collector into the real Prometheus."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from otel_secretary.cli import app as cli
from tests.e2e._apis import eventually
from tests.e2e.conftest import RunningStack
from tests.support.fault_runs import run_fault_driver

pytestmark = pytest.mark.e2e


def test_status_lists_what_an_app_could_not_write(running_stack: RunningStack, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file-not-a-folder"
    blocker.write_text("the data folder cannot be created here")
    done, _ = run_fault_driver(
        spans=40,
        batch=10,
        OTEL_SERVICE_NAME="e2e-fault-status",
        OTEL_TRACES_EXPORTER="secretary_jsonl",  # spans to files that cannot be written ...
        OTEL_LOGS_EXPORTER="none",
        OTEL_METRICS_EXPORTER="otlp",  # ... metrics, the counter among them, to the stack
        OTEL_EXPORTER_OTLP_ENDPOINT=running_stack.otlp_http,
        OTEL_METRIC_EXPORT_INTERVAL="1000",
        OTEL_SECRETARY_DATA_DIR=str(blocker),
    )
    assert "spans dropped (unwritable)" in done.stderr

    state = ["--state-dir", str(running_stack.stack.state_dir)]

    def listed() -> dict[str, object] | None:
        result = CliRunner().invoke(cli, ["stack", "status", "--json", *state])
        report = json.loads(result.output)
        lost = [x for x in report["telemetry_lost"] if x["where"] == "e2e-fault-status"]
        return report if lost and lost[0]["count"] == 40 else None

    report = eventually(listed, timeout=90, what="the app's loss in `stack status --json`")
    (lost,) = [x for x in report["telemetry_lost"] if x["where"] == "e2e-fault-status"]  # type: ignore[union-attr]
    assert lost["what"] == "spans unwritable"
    text = CliRunner().invoke(cli, ["stack", "status", *state]).output
    assert "Telemetry lost" in text and "e2e-fault-status" in text and "spans unwritable" in text


def test_the_running_stack_keeps_its_state_owner_only(running_stack: RunningStack) -> None:
    state = running_stack.stack.state_dir
    for folder in (state, state / "config", state / "logs", state / "run", state / "data"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    for config in (state / "config").glob("*.y*ml"):
        assert stat.S_IMODE(config.stat().st_mode) == 0o600, config
    assert "local-stack-routing-key" in (state / "config" / "alertmanager.yml").read_text()
