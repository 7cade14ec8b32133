"""The audit log (issue 17 item 2): every operation that changes what alerts do, through the real CLI,
against the in-process engine's files and against a real Alertmanager (Debian's binary)."""

from __future__ import annotations

import getpass
import json
import os
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from otel_secretary import audit
from otel_secretary.cli import app as root_app
from otel_secretary.cli.alerts import app
from otel_secretary.rules.embedded import EmbeddedRules
from otel_secretary.rules.spec import RuleSpec
from otel_secretary.settings import load_settings
from otel_secretary.testing.receivers import HttpReceiver
from tests.support.alertmanager import post_alert

from .conftest import API_ERROR_RATE, Replay

runner = CliRunner()
SPEC = API_ERROR_RATE


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Every command of this module writes its audit entries here, never into the checkout."""
    folder = tmp_path / "data"
    monkeypatch.setenv("OTEL_SECRETARY_DATA_DIR", str(folder))
    yield folder


def _invoke(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def _entries(folder: Path, *args: str) -> list[dict[str, object]]:
    return json.loads(_invoke("audit", "--local", "--data-dir", str(folder), "-o", "json", *args))


def test_engine_operations_are_audited_with_who_what_where_and_masked(
    make_specs: Callable[[str], list[RuleSpec]], data_dir: Path, tmp_path: Path
) -> None:
    rules = EmbeddedRules(make_specs(SPEC), data_dir)
    replay = Replay(rules.engine, service="api", start_minute=int(time.time() // 60) - 10)
    replay.run(10, 100, bad_share=1.0)
    rules.evaluate_now(replay.minute * 60)
    local = ("--local", "--data-dir", str(data_dir))
    (alert,) = json.loads(_invoke("list", *local, "-o", "json"))

    silence_id = _invoke(
        "silence",
        "service_name=api",
        "-d",
        "1h",
        "--by",
        "oncall@example.com",
        "-c",
        "call +1 202-555-0143",
        *local,
    ).strip()
    _invoke("expire", silence_id, *local)  # no --by: the OS user
    _invoke("ack", alert["fingerprint"], "--by", "oncall@example.com", *local)
    rules.evaluate_now(replay.minute * 60 + 60)  # the engine takes the ack from the control file
    receiver = HttpReceiver()
    config = tmp_path / "notify.yaml"
    config.write_text(f'channels:\n  - {{name: s, type: slack, url: "{receiver.url}"}}\n')
    try:
        _invoke("test", "--severity", "info", "--notify-config", str(config), "--by", "sre-bot", *local)
    finally:
        receiver.close()
    # The engine itself took the (unmasked) identity from the control file, as before.
    assert rules.engine.alerts[str(alert["fingerprint"])].acked_by == "oncall@example.com"
    rules.shutdown()

    entries = _entries(data_dir)
    assert [e["action"] for e in entries] == [
        "silence.created",
        "silence.expired",
        "alert.acknowledged",
        "alert.test_sent",
    ]
    created, expired, acked, tested = entries
    assert created["target"] == silence_id and created["where"] == f"engine:{data_dir}"
    assert created["by"] == "<email>" and created["by_source"] == "explicit"
    assert created["details"]["matchers"] == ["service_name=api"]  # type: ignore[index]
    assert created["details"]["comment"] == "call <phone>"  # type: ignore[index]
    assert expired["by"] == getpass.getuser() and expired["by_source"] == "os_user"
    assert expired["details"]["matchers"] == ["service_name=api"]  # type: ignore[index]
    assert acked["target"] == alert["fingerprint"] and acked["details"]["alertname"] == "Api"  # type: ignore[index]
    assert tested["by"] == "sre-bot" and tested["details"]["delivered"] == 1  # type: ignore[index]
    for entry in entries:
        assert entry["host"] and entry["pid"] == os.getpid() and str(entry["time"]).endswith("Z")
    raw = (data_dir / audit.AUDIT_FILE).read_text()
    assert "oncall@example.com" not in raw and "202-555-0143" not in raw

    table = _invoke("audit", *local).splitlines()
    assert table[0] == f"source: audit log in {data_dir}"
    assert table[1].split()[:4] == ["TIME", "ACTION", "BY", "TARGET"]
    assert [line.split()[1] for line in table[2:]] == [e["action"] for e in entries]


def test_since_filters_by_duration_and_iso_time_and_refuses_garbage(data_dir: Path) -> None:
    now = time.time()
    audit.record(data_dir, "silence.created", by="a", target="old", now=now - 3 * 86400)
    audit.record(data_dir, "silence.created", by="b", target="new", now=now - 60)
    assert [e["target"] for e in _entries(data_dir)] == ["old", "new"]
    assert [e["target"] for e in _entries(data_dir, "--since", "1d")] == ["new"]
    iso = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 4 * 86400))
    assert [e["target"] for e in _entries(data_dir, "--since", iso)] == ["old", "new"]
    bad = runner.invoke(app, ["audit", "--local", "--data-dir", str(data_dir), "--since", "yesterday"])
    assert bad.exit_code == 2 and "--since 'yesterday'" in bad.output


def test_rotated_and_append_only_across_processes(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Entries are 200-260 bytes (pid and command lengths vary): 300 of them are 60-78 KB, 4-5 rotations of
    # 15 KB files, so always more than the 3 backups (at 20 KB it was 2 or 3: flaky); and the 3 full backups
    # (45 KB) always hold one writer's whole output (at most 39 KB) plus the other's newest entry, even when
    # the writers run one after the other.
    monkeypatch.setattr(audit, "MAX_BYTES", 15_000)
    pids = []
    for writer in range(2):
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                for index in range(150):
                    if audit.record(data_dir, "alert.test_sent", by=f"w{writer}", target=str(index)) is None:
                        code = 1
            finally:
                os._exit(code)
        pids.append(pid)
    for pid in pids:
        assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0
    files = audit.files(data_dir)
    assert len(files) == audit.BACKUPS + 1, files  # rotated, bounded: the oldest backups were dropped
    assert all(path.stat().st_size <= 15_000 for path in files)
    for path in files:  # every line one whole entry: no two writers interleaved
        for line in path.read_text().splitlines():
            assert json.loads(line)["action"] == "alert.test_sent"
    entries = audit.read(data_dir)
    kept = {(e["by"], int(e["target"])) for e in entries}
    # Rotation drops the oldest entries only: each writer's newest one is still there.
    assert ("w0", 149) in kept and ("w1", 149) in kept
    assert [e["ts"] for e in entries] == sorted(e["ts"] for e in entries)


def _spec_folder(root: Path, threshold: float) -> Path:
    folder = root / "specs"
    folder.mkdir(exist_ok=True)
    (folder / "api.yaml").write_text(
        textwrap.dedent(SPEC.replace("threshold: 0.5", f"threshold: {threshold}")), encoding="utf-8"
    )
    return folder


def test_rules_and_channels_loaded_and_changed_are_recorded_once(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    specs = _spec_folder(tmp_path, 0.5)
    notify = tmp_path / "notify.yaml"
    notify.write_text(
        'channels:\n  - {name: ops, type: webhook, url: "https://hooks.example.com/T0KEN123"}\n'
    )
    monkeypatch.setenv("OTEL_SECRETARY_RULES_DIR", str(specs))
    monkeypatch.setenv("OTEL_SECRETARY_NOTIFY_CONFIG", str(notify))

    def start() -> list[str]:
        EmbeddedRules.from_settings(load_settings()).shutdown()
        return [str(e["action"]) for e in audit.read(data_dir)]

    assert start() == ["rules.loaded", "notify.config_loaded"]
    assert start() == ["rules.loaded", "notify.config_loaded"]  # a restart (or a 2nd worker) adds nothing
    _spec_folder(tmp_path, 0.2)
    (specs / "extra.yml").write_text((specs / "api.yaml").read_text().replace("name: Api", "name: Extra"))
    notify.write_text(
        notify.read_text() + '  - {name: chat, type: slack, url: "https://hooks.example.com/X"}\n'
    )
    assert start()[2:] == ["rules.changed", "notify.config_changed"]
    changed, channels = audit.read(data_dir)[2:]
    assert changed["details"]["changed"] == ["api.yaml"] and changed["details"]["added"] == ["extra.yml"]
    assert changed["details"]["rules"] == ["Api", "Extra"]
    assert channels["details"]["channels"] == ["ops (webhook)", "chat (slack)"]
    assert channels["details"]["previous_digest"] == audit.read(data_dir)[1]["details"]["digest"]
    assert "T0KEN123" not in (data_dir / audit.AUDIT_FILE).read_text()  # channel secrets never logged


def test_rules_render_is_audited_where_a_data_folder_is_in_use(data_dir: Path, tmp_path: Path) -> None:
    specs = _spec_folder(tmp_path, 0.5)
    result = runner.invoke(
        root_app, ["rules", "render", "--specs", str(specs), "--out", str(tmp_path / "gen"), "--by", "ci"]
    )
    assert result.exit_code == 0, result.output
    (entry,) = audit.read(data_dir)
    assert (
        entry["action"] == "rules.rendered"
        and entry["by"] == "ci"
        and entry["target"] == str(tmp_path / "gen")
    )
    assert (
        entry["details"]["rules"] == ["Api"] and entry["details"]["files"] == 3
    )  # collector rules, its test, alertmanager.yml
    assert entry["details"]["spec_digests"] == audit.rule_digests(specs)


def test_alertmanager_operations_are_audited_next_to_alertmanagers_own_records(
    alertmanager: tuple[str, HttpReceiver, HttpReceiver],
    data_dir: Path,
) -> None:
    url, _, _ = alertmanager
    am = ("--alertmanager-url", url, "--data-dir", str(data_dir))
    post_alert(url, {"alertname": "AuditAck", "severity": "ticket", "service_name": "api"})
    silence_id = _invoke("silence", "alertname=AuditSilence", "-d", "30m", "--by", "oncall@example.com", *am)
    silence_id = silence_id.strip()
    _invoke("expire", silence_id, "--by", "oncall@example.com", *am)
    (alert,) = [a for a in json.loads(_invoke("list", *am[:2], "-o", "json")) if a["alertname"] == "AuditAck"]
    ack_output = _invoke("ack", alert["fingerprint"], *am)
    _invoke("test", "--severity", "info", *am)
    # A silence made without us (amtool, the web UI): only Alertmanager has a record of it.
    now = time.time()
    outside = httpx.post(
        f"{url}/api/v2/silences",
        json={
            "matchers": [{"name": "alertname", "value": "Elsewhere", "isRegex": False, "isEqual": True}],
            "startsAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)),
            "endsAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + 600)),
            "createdBy": "amtool-user",
            "comment": "maintenance",
        },
        timeout=5,
    ).json()["silenceID"]

    ours = audit.read(data_dir)
    assert [e["action"] for e in ours] == [
        "silence.created",
        "silence.expired",
        "alert.acknowledged",
        "alert.test_sent",
    ]
    assert all(e["where"] == f"alertmanager:{url}" for e in ours)
    assert ours[0]["target"] == silence_id and ours[0]["by"] == "<email>" and ours[1]["target"] == silence_id
    ack_silence = ours[2]["details"]["silence"]
    assert ack_silence in ack_output and ours[2]["by"] == getpass.getuser()
    # Alertmanager recorded the real author of our silence: its own record, not ours, holds it.
    records = {s["id"]: s for s in httpx.get(f"{url}/api/v2/silences", timeout=5).json()}
    assert records[silence_id]["createdBy"] == "oncall@example.com"
    assert records[silence_id]["status"]["state"] == "expired"

    merged = json.loads(_invoke("audit", *am, "-o", "json"))
    foreign = [e for e in merged if e["by_source"] == "alertmanager"]
    assert [e["target"] for e in foreign] == [outside]  # ours are not listed twice
    assert foreign[0]["by"] == "amtool-user" and foreign[0]["details"]["matchers"] == ["alertname=Elsewhere"]
    assert len(merged) == len(ours) + 1


def test_an_unwritable_data_folder_never_stops_the_engine_or_says_more(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    before = audit.failures
    assert audit.note_config(blocker / "data", _spec_folder(tmp_path, 0.5), None) == []
    assert audit.failures == before + 1 and capsys.readouterr().err == ""
    assert audit.record(blocker / "data", "alert.test_sent") is None
    assert "audit entry alert.test_sent not written" in capsys.readouterr().err
