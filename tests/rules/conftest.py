"""Helpers for rule tests: specs from inline YAML and a minute-by-minute traffic replayer."""

from __future__ import annotations

import shutil
import subprocess
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from otel_secretary.rules import render
from otel_secretary.rules.engine import Notification, RuleEngine
from otel_secretary.rules.spec import RuleSpec, load_file
from otel_secretary.testing.receivers import HttpReceiver
from tests.support.polling import wait_for
from tests.support.processes import free_port

REPO = Path(__file__).resolve().parents[2]

ANNOTATIONS = """
    annotations:
      summary: "{{ $labels.service_name }} is failing"
      runbook_url: docs/runbooks/error-rate.md
"""


@pytest.fixture
def make_specs(tmp_path: Path) -> Callable[[str], list[RuleSpec]]:
    def build(body: str) -> list[RuleSpec]:
        path = tmp_path / "spec.yaml"
        path.write_text(textwrap.dedent(body), encoding="utf-8")
        return load_file(path)

    return build


class Replay:
    """Feed per-minute span counts into an engine and evaluate at each minute boundary, like promtool."""

    def __init__(
        self,
        engine: RuleEngine,
        service: str = "api",
        span: str = "GET /x",
        kind: str = "server",
        start_minute: int = 0,
    ):
        self.engine = engine
        self.service, self.span, self.kind = service, span, kind
        self.minute = start_minute
        self.sent: list[tuple[int, Notification]] = []
        self.firing: dict[int, set[tuple[str, str]]] = {}

    def run(
        self,
        minutes: int,
        per_minute: float,
        bad_share: float = 0.0,
        duration: float = 0.01,
        bad_duration: float | None = None,
    ) -> None:
        """Bad events are errors *and* slow (``bad_duration``): one plan drives availability and latency."""
        for _ in range(minutes):
            ts = self.minute * 60 + 30
            bad = per_minute * bad_share
            if bad:
                slow = duration if bad_duration is None else bad_duration
                self.engine.observe_span(self.service, self.span, self.kind, True, slow, ts, count=bad)
            if per_minute - bad:
                self.engine.observe_span(
                    self.service, self.span, self.kind, False, duration, ts, count=per_minute - bad
                )
            self.minute += 1
            self.evaluate()

    def evaluate(self) -> None:
        now = self.minute * 60
        for notification in self.engine.evaluate(now):
            self.sent.append((self.minute, notification))
        self.firing[self.minute] = {
            (a.alertname, a.severity) for a in self.engine.alerts.values() if a.state == "firing"
        }

    def kinds(self, severity: str | None = None) -> list[tuple[int, str, str]]:
        return [
            (minute, n.kind, n.severity)
            for minute, n in self.sent
            if severity is None or n.severity == severity
        ]


#: Debian installs Alertmanager as prometheus-alertmanager.
ALERTMANAGER = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")


@pytest.fixture(scope="module")
def alertmanager(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[str, HttpReceiver, HttpReceiver]]:
    if ALERTMANAGER is None:
        pytest.skip("Alertmanager (apt: prometheus-alertmanager) not installed")
    folder = tmp_path_factory.mktemp("alertmanager")
    slack, pagerduty = HttpReceiver(), HttpReceiver()
    options = render.AlertmanagerOptions(
        slack_url=slack.url,
        pagerduty_url=pagerduty.url,
        pagerduty_routing_key="TESTKEY00000000000000000000000000",
    )
    (folder / "alertmanager.yml").write_text(render.dump(render.render_alertmanager(options)))
    port = free_port()
    process = subprocess.Popen(
        [
            ALERTMANAGER,
            "--config.file=alertmanager.yml",
            f"--web.listen-address=127.0.0.1:{port}",
            "--storage.path=data",
            "--cluster.listen-address=",
        ],
        cwd=folder,
        stdout=subprocess.DEVNULL,
        stderr=open(folder / "alertmanager.log", "w"),  # noqa: SIM115
    )
    url = f"http://127.0.0.1:{port}"
    try:
        ready = wait_for(lambda: _ready(url), 15)
        assert ready, (folder / "alertmanager.log").read_text()[-2000:]
        yield url, slack, pagerduty
    finally:
        process.terminate()
        process.wait(10)
        slack.close()
        pagerduty.close()


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/-/ready", timeout=0.5).status_code == 200
    except httpx.HTTPError:
        return False


def post_alert(url: str, labels: dict[str, str]) -> None:
    now = time.time()
    alert = {
        "labels": labels,
        "annotations": {"summary": "synthetic"},
        "startsAt": render_iso(now),
        "endsAt": render_iso(now + 600),
    }
    httpx.post(f"{url}/api/v2/alerts", json=[alert], timeout=5).raise_for_status()


def render_iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))
