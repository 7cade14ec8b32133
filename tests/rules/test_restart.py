"""Issue 12 item 3: restarting the app mid-incident keeps alerts, windows, silences and acks.

Two EmbeddedRules lifetimes on one data folder, in the SDK, with real HTTP receivers and the real
``otel-secretary alerts`` CLI. The first lifetime ends without ``shutdown()`` (a crash: only what was
persisted at each evaluation survives).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import SpanKind, Status, StatusCode
from typer.testing import CliRunner

from otel_secretary.cli.alerts import app
from otel_secretary.rules import store
from otel_secretary.rules.embedded import EmbeddedRules
from otel_secretary.rules.engine import EngineOptions
from otel_secretary.rules.spec import load_file
from otel_secretary.testing.receivers import HttpReceiver

from .conftest import ANNOTATIONS

SPEC = (
    """
rules:
  - name: Api
    kind: slo
    objective: 99
    by: [service_name]
    selector: {service: api, span_kind: server}
    no_data: false
"""
    + ANNOTATIONS
)
# Minutes since the epoch: the replayed clock starts half an hour ago, so a silence the CLI creates "now"
# (real time) is active from replayed minute 30 on.
BASE = int(time.time() // 60) - 30
runner = CliRunner()


@pytest.fixture
def pd() -> Iterator[HttpReceiver]:
    receiver = HttpReceiver()
    yield receiver
    receiver.close()


class Life:
    """One lifetime of the app: an EmbeddedRules in a TracerProvider, driven minute by minute."""

    def __init__(self, tmp_path: Path, pd: HttpReceiver, repeat: float = 4 * 3600.0) -> None:
        spec = tmp_path / "spec.yaml"
        spec.write_text(SPEC, encoding="utf-8")
        config = tmp_path / "notify.yaml"
        config.write_text(
            f"""
retry: {{attempts: 2, backoff_seconds: 0.05}}
channels:
  - {{name: pd, type: pagerduty, url: "{pd.url}", routing_key: TESTKEY0000, severities: [page]}}
"""
        )
        self.rules = EmbeddedRules(
            load_file(spec),
            tmp_path / "data",
            notify_config=config,
            options=EngineOptions(repeat_interval=repeat),
        )
        self.provider = TracerProvider(resource=Resource.create({"service.name": "api"}))
        self.provider.add_span_processor(self.rules.span_processor)

    def run(self, first: int, last: int, failing: bool, per_minute: int = 20) -> None:
        tracer = self.provider.get_tracer("test")
        for minute in range(BASE + first, BASE + last):
            for i in range(per_minute):
                start = minute * 60_000_000_000 + i * 1_000_000
                span = tracer.start_span("GET /x", kind=SpanKind.SERVER, start_time=start)
                if failing:
                    span.set_status(Status(StatusCode.ERROR))
                span.end(end_time=start + 10_000_000)
            self.rules.evaluate_now((minute + 1) * 60)

    def crash(self) -> None:
        """Stop delivery threads only: no final persist, no final count flush; the kernel releases a dead
        process's flock, which is all that is left of it."""
        assert self.rules.dispatcher is not None and self.rules.dispatcher.flush(10)
        self.rules.dispatcher.close()
        self.rules._election.release()
        self.provider.shutdown()

    def stop(self) -> None:
        self.rules.shutdown()
        self.provider.shutdown()


def _pages(pd: HttpReceiver) -> list[str]:
    return [
        b["event_action"]
        for b in pd.bodies()
        if b.get("payload", {}).get("severity", "critical") == "critical"
    ]


def test_crash_mid_incident_sends_no_second_trigger_and_still_resolves(
    tmp_path: Path, pd: HttpReceiver
) -> None:
    first = Life(tmp_path, pd)
    first.run(0, 60, failing=False)
    first.run(60, 70, failing=True)
    first.crash()
    assert [b["event_action"] for b in pd.bodies()] == ["trigger"]

    second = Life(tmp_path, pd)
    try:
        assert second.rules.restored >= 1
        second.run(70, 71, failing=True)
        # Windows rebuilt from the count files: the first evaluation already sees the last hour.
        (series,) = second.rules.engine._series.values()
        assert series.ring.window((BASE + 71) * 60, 3600) == [11 * 20.0, 60 * 20.0]
        listed = runner.invoke(app, ["list", "--local", "--data-dir", str(tmp_path / "data"), "-o", "json"])
        assert listed.exit_code == 0, listed.output
        rows = json.loads(listed.output)
        assert [(r["alertname"], r["state"]) for r in rows if r["severity"] == "page"] == [
            ("ApiBudgetBurn", "firing")
        ]
        second.run(71, 75, failing=True)
        second.run(75, 200, failing=False)
        assert second.rules.dispatcher is not None and second.rules.dispatcher.flush(10)
        actions = [(b["event_action"], b["dedup_key"]) for b in pd.bodies()]
        assert [a for a, _ in actions] == ["trigger", "resolve"]
        assert actions[0][1] == actions[1][1]
    finally:
        second.stop()


def test_silence_and_ack_survive_a_restart(tmp_path: Path, pd: HttpReceiver) -> None:
    data = str(tmp_path / "data")
    first = Life(tmp_path, pd, repeat=600)
    first.run(0, 30, failing=False)
    first.run(30, 33, failing=True)
    page = next(a for a in first.rules.engine.alerts.values() if a.severity == "page" and a.state == "firing")
    acked = runner.invoke(
        app, ["ack", page.fingerprint, "--local", "--data-dir", data, "--by", "oncall@example.com"]
    )
    assert acked.exit_code == 0, acked.output
    silenced = runner.invoke(app, ["silence", "severity=ticket", "--local", "--data-dir", data, "-d", "1d"])
    assert silenced.exit_code == 0, silenced.output
    first.run(33, 35, failing=True)
    first.stop()  # a clean restart this time
    assert [b["event_action"] for b in pd.bodies()] == ["trigger", "acknowledge"]

    second = Life(tmp_path, pd, repeat=600)
    try:
        second.run(35, 100, failing=True)  # six repeat intervals: an unacked page would remind six times
        restored = next(a for a in second.rules.engine.alerts.values() if a.fingerprint == page.fingerprint)
        assert restored.acked and restored.acked_by == "oncall@example.com"
        tickets = [
            a for a in second.rules.engine.alerts.values() if a.severity == "ticket" and a.state == "firing"
        ]
        assert tickets and all(a.suppressed_by.startswith("silence:") for a in tickets)
        second.run(100, 200, failing=False)
        assert second.rules.dispatcher is not None and second.rules.dispatcher.flush(10)
        assert [b["event_action"] for b in pd.bodies()] == ["trigger", "acknowledge", "resolve"]
    finally:
        second.stop()


def test_durable_state_is_written_then_renamed(tmp_path: Path, pd: HttpReceiver) -> None:
    life = Life(tmp_path, pd)
    folder = tmp_path / "data"
    try:
        life.run(0, 3, failing=True)
        state = json.loads((folder / store.ALERTS).read_text(encoding="utf-8"))
        assert state["pid"] == os.getpid() and state["alerts"]
    finally:
        life.stop()
    # Looked for once every writer has stopped: while the engine runs, a background save may be between
    # writing its temporary file and renaming it (CI once caught one there).
    assert not list(folder.glob(".*.tmp")), "no temporary file is left behind"
