"""`otel-secretary alerts …` against a real Alertmanager (Debian's binary) and against engine state files."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from otel_secretary.cli.alerts import app
from otel_secretary.rules import store
from otel_secretary.rules.embedded import EmbeddedRules
from otel_secretary.rules.spec import RuleSpec
from otel_secretary.testing.receivers import HttpReceiver
from tests.support.alertmanager import post_alert
from tests.support.polling import wait_for
from tests.support.processes import free_port

from .conftest import ANNOTATIONS, API_ERROR_RATE, Replay

runner = CliRunner()


@pytest.fixture(autouse=True)
def _audit_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Commands against Alertmanager write audit entries to the data folder: a temporary one here."""
    monkeypatch.setenv("OTEL_SECRETARY_DATA_DIR", str(tmp_path / "data"))


def _invoke(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def _alerts(url: str) -> list[dict[str, object]]:
    return json.loads(_invoke("list", "--alertmanager-url", url, "-o", "json"))


def test_test_alert_is_routed_to_pagerduty_and_slack(
    alertmanager: tuple[str, HttpReceiver, HttpReceiver],
) -> None:
    url, slack, pagerduty = alertmanager
    _invoke("test", "--alertmanager-url", url, "--severity", "page")
    assert any(a["alertname"] == "OtelSecretaryTest" for a in _alerts(url))
    assert wait_for(lambda: pagerduty.requests and slack.requests, 20)
    event = pagerduty.bodies()[0]
    assert event["event_action"] == "trigger" and event["routing_key"] == "TESTKEY00000000000000000000000000"
    assert event["payload"]["summary"].startswith("[FIRING:1] OtelSecretaryTest")
    assert len(event["dedup_key"]) == 64  # sha256 of the group key


def test_silence_suppresses_and_expire_restores(alertmanager: tuple[str, HttpReceiver, HttpReceiver]) -> None:
    url, _, _ = alertmanager
    post_alert(url, {"alertname": "CliSilence", "severity": "ticket", "service_name": "api"})
    silence_id = _invoke("silence", "alertname=CliSilence", "-d", "30m", "--alertmanager-url", url).strip()
    (alert,) = [a for a in _alerts(url) if a["alertname"] == "CliSilence"]
    assert alert["state"] == "suppressed" and silence_id in str(alert["suppressed"])
    _invoke("expire", silence_id, "--alertmanager-url", url)
    assert wait_for(
        lambda: [a["state"] for a in _alerts(url) if a["alertname"] == "CliSilence"] == ["active"], 5
    )


def test_ack_creates_a_silence_on_the_exact_labels(
    alertmanager: tuple[str, HttpReceiver, HttpReceiver],
) -> None:
    url, _, _ = alertmanager
    post_alert(url, {"alertname": "CliAck", "severity": "page", "service_name": "api"})
    (alert,) = [a for a in _alerts(url) if a["alertname"] == "CliAck"]
    output = _invoke(
        "ack", str(alert["fingerprint"]), "--by", "oncall@example.com", "--alertmanager-url", url
    )
    silences = httpx.get(f"{url}/api/v2/silences", timeout=5).json()
    mine = [s for s in silences if s["comment"] == f"ack {alert['fingerprint']}"]
    assert mine and mine[0]["id"] in output and mine[0]["createdBy"] == "oncall@example.com"


def test_page_inhibits_ticket_for_same_rule_and_span(
    alertmanager: tuple[str, HttpReceiver, HttpReceiver],
) -> None:
    url, _, _ = alertmanager
    common = {"alertname": "ApiBudgetBurn", "rule": "Api", "service_name": "api", "span_name": "GET /x"}
    post_alert(url, {**common, "severity": "page"})
    post_alert(url, {**common, "severity": "ticket"})
    post_alert(url, {**common, "span_name": "GET /other", "severity": "ticket"})

    def states() -> dict[tuple[str, str], str]:
        return {
            (str(a["labels"]["severity"]), str(a["labels"]["span_name"])): str(a["state"])  # type: ignore[index]
            for a in _alerts(url)
            if a["alertname"] == "ApiBudgetBurn"
        }

    assert wait_for(lambda: states().get(("ticket", "GET /x")) == "suppressed", 10), states()
    assert states()[("page", "GET /x")] == "active" and states()[("ticket", "GET /other")] == "active"


def test_unreachable_alertmanager_is_an_error_not_a_silent_fallback() -> None:
    result = runner.invoke(app, ["list", "--alertmanager-url", f"http://127.0.0.1:{free_port()}"])
    assert result.exit_code == 1 and "not reachable" in result.output


def test_in_process_list_silence_ack_expire(
    make_specs: Callable[[str], list[RuleSpec]], tmp_path: Path
) -> None:
    spec = (
        """
rules:
  - name: Api
    kind: slo
    objective: 99
    by: [service_name]
    selector: {service: api}
    no_data: false
"""
        + ANNOTATIONS
    )
    rules = EmbeddedRules(make_specs(spec), tmp_path)
    replay = Replay(rules.engine, service="api", start_minute=int(time.time() // 60) - 70)
    replay.run(60, 100)
    replay.run(10, 100, bad_share=1.0)
    rules.evaluate_now(replay.minute * 60)  # writes the state file the CLI reads
    local = ("--local", "--data-dir", str(tmp_path))
    rows = json.loads(_invoke("list", *local, "-o", "json"))
    page = next(r for r in rows if r["severity"] == "page")
    assert page["state"] == "firing" and page["alertname"] == "ApiBudgetBurn"

    _invoke("ack", page["fingerprint"], "--by", "oncall@example.com", *local)
    silence_id = _invoke("silence", "severity=ticket", "-d", "1h", *local).strip()
    rules.evaluate_now(replay.minute * 60 + 60)
    alerts = {a.severity: a for a in rules.engine.alerts.values()}
    assert alerts["page"].acked and alerts["page"].acked_by == "oncall@example.com"
    assert alerts["ticket"].suppressed_by == f"silence:{silence_id}"

    _invoke("expire", silence_id, *local)
    rules.evaluate_now(replay.minute * 60 + 120)
    assert not rules.engine.silences[silence_id].active(replay.minute * 60 + 120)
    assert runner.invoke(app, ["ack", "ffffffffffffffff", *local]).exit_code == 1
    rules.shutdown()


def test_in_process_test_notification_reaches_every_channel(tmp_path: Path) -> None:
    receiver = HttpReceiver()
    config = tmp_path / "notify.yaml"
    config.write_text(f'channels:\n  - {{name: s, type: slack, url: "{receiver.url}", severities: [page]}}\n')
    try:
        output = _invoke("test", "--local", "--severity", "info", "--notify-config", str(config))
        assert "delivered to 1 channel(s), 0 failed" in output
        (body,) = receiver.bodies()
        assert body["text"].startswith("[TEST] OtelSecretaryTest (info)")
    finally:
        receiver.close()


def test_control_file_stays_bounded(tmp_path: Path) -> None:
    old = {"id": "old", "matchers": [], "startsAt": 0, "endsAt": 1, "createdBy": "", "comment": ""}
    store.update_control(tmp_path, lambda c: c["silences"].append(old))
    acks = [{"fingerprint": f"{i:016x}", "at": time.time()} for i in range(1100)]
    store.update_control(tmp_path, lambda c: c["acks"].extend(acks))
    control = store.read_control(tmp_path)
    assert control["silences"] == [] and len(control["acks"]) == 1000


def test_list_prunes_dead_workers_state_names_its_source_and_refuses_unknown_formats(
    make_specs: Callable[[str], list[RuleSpec]], tmp_path: Path
) -> None:
    """Issue 11 item 8: after prefork workers stopped, one alert is listed once, under a header, with the
    folder it was read from; ``-o yaml`` is refused."""
    rules = EmbeddedRules(make_specs(API_ERROR_RATE), tmp_path)
    replay = Replay(rules.engine, service="api", start_minute=int(time.time() // 60) - 10)
    replay.run(10, 100, bad_share=1.0)
    for _ in range(2):  # two forked "workers" each write their own state file, then exit
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                rules.evaluate_now(replay.minute * 60)
                code = 0 if (tmp_path / f"rules-state-{os.getpid()}.json").exists() else 2
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
    rules.evaluate_now(replay.minute * 60)
    assert len(list(tmp_path.glob("rules-state-*.json"))) == 2

    local = ("--local", "--data-dir", str(tmp_path))
    table = _invoke("list", *local).splitlines()
    assert table[0].startswith("source: in-process engine state in ") and str(tmp_path) in table[0]
    assert table[1].split()[:4] == ["FINGERPRINT", "STATE", "SEVERITY", "ALERTNAME"]
    assert len([line for line in table[2:] if " Api " in f" {line} "]) == 1
    assert not list(tmp_path.glob("rules-state-*.json")), "dead workers' state files are pruned"
    rows = json.loads(_invoke("list", *local, "-o", "json"))
    assert len(rows) == 1 and rows[0]["source"].startswith("in-process engine state in ")

    refused = runner.invoke(app, ["list", *local, "-o", "yaml"])
    assert refused.exit_code == 2 and "yaml" in refused.output
    rules.shutdown()
