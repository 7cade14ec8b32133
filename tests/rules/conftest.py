"""Helpers for rule tests: specs from inline YAML and a minute-by-minute traffic replayer."""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from otel_secretary.rules import render
from otel_secretary.rules.engine import Notification, RuleEngine
from otel_secretary.rules.spec import RuleSpec, load_file
from otel_secretary.testing.receivers import HttpReceiver
from tests.support.alertmanager import running_alertmanager

REPO = Path(__file__).resolve().parents[2]

ANNOTATIONS = """
    annotations:
      summary: "{{ $labels.service_name }} is failing"
      runbook_url: docs/runbooks/error-rate.md
"""
# One error-rate rule on service "api", for the tests that only need some rule to fire.
API_ERROR_RATE = (
    """
rules:
  - name: Api
    kind: error_rate
    threshold: 0.5
    window: 5m
    by: [service_name]
    selector: {service: api}
"""
    + ANNOTATIONS
)


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


@pytest.fixture(scope="module")
def alertmanager(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[str, HttpReceiver, HttpReceiver]]:
    """A real Alertmanager whose Slack and PagerDuty receivers are local ones the tests read."""
    slack, pagerduty = HttpReceiver(), HttpReceiver()
    options = render.AlertmanagerOptions(
        slack_url=slack.url,
        pagerduty_url=pagerduty.url,
        pagerduty_routing_key="TESTKEY00000000000000000000000000",
    )
    try:
        with running_alertmanager(tmp_path_factory.mktemp("alertmanager"), options, ready_within=15) as url:
            yield url, slack, pagerduty
    finally:
        slack.close()
        pagerduty.close()
