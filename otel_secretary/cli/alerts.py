"""`otel-secretary alerts list|silence|expire|ack|test|audit`.

Against Alertmanager's v2 API when ``--alertmanager-url`` is given (or one answers on the default local
port), else against the in-process engine's files in the data dir. Alertmanager has no acknowledgement:
``ack`` there creates a silence on the alert's exact labels, which stops reminders until it ends.
Every command that changes what alerts do appends an entry to the data folder's audit log
(:mod:`otel_secretary.audit`), for Alertmanager too: its own silence records say neither host nor pid.
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, TypeAlias

import httpx
import typer

from otel_secretary import audit
from otel_secretary.alerting.model import Matcher, Notification, Silence
from otel_secretary.rules import store
from otel_secretary.rules.spec import parse_duration
from otel_secretary.settings import load_settings

app = typer.Typer(help="Alerts: list, silence, expire silences, acknowledge, send a test notification.")
DEFAULT_ALERTMANAGER = "http://127.0.0.1:9093"

UrlOption: TypeAlias = Annotated[
    str | None,
    typer.Option(
        "--alertmanager-url",
        envvar="OTEL_SECRETARY_ALERTMANAGER_URL",
        help="Alertmanager base URL; default: use it if one answers on 127.0.0.1:9093.",
    ),
]
LocalOption: TypeAlias = Annotated[
    bool, typer.Option("--local", help="Use the engine's state even if Alertmanager runs.")
]
DataDirOption: TypeAlias = Annotated[
    Path | None, typer.Option("--data-dir", help="Engine data dir (default: OTEL_SECRETARY_DATA_DIR).")
]
ByOption: TypeAlias = Annotated[
    str | None, typer.Option("--by", help="Who does this, for the audit log (default: the OS user).")
]


def _alertmanager(url: str | None, local: bool) -> str | None:
    if local:
        return None
    candidate = (url or DEFAULT_ALERTMANAGER).rstrip("/")
    try:
        httpx.get(f"{candidate}/api/v2/status", timeout=2 if url else 0.3).raise_for_status()
        return candidate
    except httpx.HTTPError:
        if url:
            typer.echo(f"error: Alertmanager at {url} is not reachable", err=True)
            raise typer.Exit(1) from None
        return None


def _data_dir(data_dir: Path | None) -> Path:
    return data_dir or load_settings().data_dir


def _audit(
    folder: Path,
    action: audit.Action,
    by: str | None,
    target: str,
    url: str | None,
    details: dict[str, Any],
) -> None:
    """Append the operation to the audit log of ``folder`` (for Alertmanager operations too)."""
    from otel_secretary import pii

    try:
        masker: pii.Masker | None = pii.build_masker(load_settings())
    except Exception:
        masker = None  # the default policy still masks; a bad setting must not hide the entry
    where = f"alertmanager:{url}" if url else f"engine:{folder}"
    audit.record(folder, action, by=by, target=target, where=where, details=details, masker=masker)


def _matcher_text(raw: Any) -> str:
    """``name=value`` (or ``!=``, ``=~``, ``!~``) of a stored or Alertmanager matcher."""
    if not isinstance(raw, dict):
        return str(raw)
    regex, equal = raw.get("is_regex", raw.get("isRegex")), raw.get("is_equal", raw.get("isEqual", True))
    op = ("=" if equal else "!") + ("~" if regex else "") if regex else ("=" if equal else "!=")
    return f"{raw.get('name')}{op}{raw.get('value')}"


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


class OutputFormat(StrEnum):
    table = "table"
    json = "json"


OutputOption = Annotated[
    OutputFormat, typer.Option("-o", "--output", help="table or json", case_sensitive=False)
]


def _print_rows(rows: list[dict[str, Any]], as_json: bool, source: str) -> None:
    if as_json:
        typer.echo(json.dumps(rows, indent=1, sort_keys=True))
        return
    typer.echo(f"source: {source}")
    if not rows:
        typer.echo("no alerts")
        return
    typer.echo(f"{'FINGERPRINT':<16}  {'STATE':<10} {'SEVERITY':<8} {'ALERTNAME':<28} SUMMARY")
    for row in rows:
        name = row["alertname"] + (f" ({row['suppressed']})" if row.get("suppressed") else "")
        name += " (acked)" if row.get("acked") else ""
        typer.echo(
            f"{row['fingerprint']:<16}  {row['state']:<10} {row['severity']:<8} {name:<28} "
            f"{row.get('summary', '')}"
        )


@app.command("list")
def list_alerts(
    alertmanager_url: UrlOption = None,
    local: LocalOption = False,
    data_dir: DataDirOption = None,
    output: OutputOption = OutputFormat.table,
) -> None:
    """Active alerts with state (firing/pending/suppressed) and fingerprint; says where it read them."""
    url = _alertmanager(alertmanager_url, local)
    rows: list[dict[str, Any]] = []
    if url:
        source = f"Alertmanager at {url}"
        for alert in httpx.get(f"{url}/api/v2/alerts", timeout=5).json():
            status = alert.get("status", {})
            suppressed = ",".join(status.get("silencedBy", []) + status.get("inhibitedBy", []))
            rows.append(
                {
                    "fingerprint": alert["fingerprint"],
                    "state": status.get("state", ""),
                    "severity": alert["labels"].get("severity", ""),
                    "alertname": alert["labels"].get("alertname", ""),
                    "labels": alert["labels"],
                    "summary": alert.get("annotations", {}).get("summary", ""),
                    "suppressed": suppressed,
                    "source": source,
                }
            )
    else:
        folder = _data_dir(data_dir)
        states = store.read_states(folder)
        files = ", ".join(f"{s['file']}{'' if s.get('alive') else ' (process stopped)'}" for s in states)
        source = f"in-process engine state in {folder}" + (f" ({files})" if files else " (no state files)")
        listed: set[str] = set()
        for state in states:  # newest first: an alert several processes wrote is listed once
            for alert in state.get("alerts", []):
                if alert["fingerprint"] in listed:
                    continue
                listed.add(alert["fingerprint"])
                rows.append(
                    {
                        "fingerprint": alert["fingerprint"],
                        "state": alert["state"],
                        "severity": alert["severity"],
                        "alertname": alert["alertname"],
                        "labels": alert["labels"],
                        "summary": alert["annotations"].get("summary", ""),
                        "suppressed": alert.get("suppressedBy", ""),
                        "acked": alert.get("acked", False),
                        "process": state.get("file"),
                        "source": source,
                    }
                )
    _print_rows(rows, output is OutputFormat.json, source)


@app.command()
def silence(
    matchers: Annotated[
        list[str], typer.Argument(help='Label matchers: severity=page, span_name=~"stripe.*"')
    ],
    duration: Annotated[str, typer.Option("--duration", "-d")] = "2h",
    comment: Annotated[str, typer.Option("--comment", "-c")] = "silenced from the CLI",
    author: Annotated[
        str | None,
        typer.Option("--by", "--author", "-a", help="Who silences (default: the OS user)."),
    ] = None,
    alertmanager_url: UrlOption = None,
    local: LocalOption = False,
    data_dir: DataDirOption = None,
) -> None:
    """Silence matching alerts for a while; prints the silence id."""
    try:
        parsed = [Matcher.parse(m) for m in matchers]
        seconds = parse_duration(duration)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    now = time.time()
    who = audit.actor(author)[0]
    url = _alertmanager(alertmanager_url, local)
    details = {
        "matchers": [str(m) for m in matchers],
        "startsAt": _iso(now),
        "endsAt": _iso(now + seconds),
        "comment": comment,
    }
    if url:
        body = {
            "matchers": [
                {"name": m.name, "value": m.value, "isRegex": m.is_regex, "isEqual": m.is_equal}
                for m in parsed
            ],
            "startsAt": _iso(now),
            "endsAt": _iso(now + seconds),
            "createdBy": who,
            "comment": comment,
        }
        response = httpx.post(f"{url}/api/v2/silences", json=body, timeout=5)
        if response.status_code >= 300:
            typer.echo(f"error: Alertmanager answered {response.status_code}: {response.text}", err=True)
            raise typer.Exit(1)
        silence_id = str(response.json()["silenceID"])
        _audit(_data_dir(data_dir), "silence.created", author, silence_id, url, details)
        typer.echo(silence_id)
        return
    entry = Silence(uuid.uuid4().hex, tuple(parsed), now, now + seconds, who, comment)
    folder = _data_dir(data_dir)
    store.update_control(folder, lambda c: c.setdefault("silences", []).append(entry.to_json()))
    _audit(folder, "silence.created", author, entry.id, None, details)
    typer.echo(entry.id)


@app.command()
def expire(
    silence_id: str,
    by: ByOption = None,
    alertmanager_url: UrlOption = None,
    local: LocalOption = False,
    data_dir: DataDirOption = None,
) -> None:
    """End a silence now."""
    url = _alertmanager(alertmanager_url, local)
    folder = _data_dir(data_dir)
    if url:
        response = httpx.delete(f"{url}/api/v2/silence/{silence_id}", timeout=5)
        if response.status_code >= 300:
            typer.echo(f"error: {response.status_code} {response.text}", err=True)
            raise typer.Exit(1)
        _audit(folder, "silence.expired", by, silence_id, url, {})
        typer.echo(f"expired {silence_id}")
        return
    now = time.time()

    def change(control: dict[str, Any]) -> dict[str, Any] | None:
        for entry in control.get("silences", []):
            if entry["id"] == silence_id:
                entry["endsAt"] = min(entry["endsAt"], now)
                return dict(entry)
        return None

    expired = store.update_control(folder, change)
    if not expired:
        typer.echo(f"error: no silence {silence_id}", err=True)
        raise typer.Exit(1)
    matchers = [_matcher_text(m) for m in expired.get("matchers", [])]
    _audit(folder, "silence.expired", by, silence_id, None, {"matchers": matchers})
    typer.echo(f"expired {silence_id}")


@app.command()
def ack(
    fingerprint: str,
    by: ByOption = None,
    duration: Annotated[
        str, typer.Option("--duration", "-d", help="Alertmanager only: length of the ack silence.")
    ] = "4h",
    alertmanager_url: UrlOption = None,
    local: LocalOption = False,
    data_dir: DataDirOption = None,
) -> None:
    """Acknowledge a firing alert: reminders stop, resolution is still notified."""
    url = _alertmanager(alertmanager_url, local)
    now = time.time()
    who = audit.actor(by)[0]
    if url:
        alerts = httpx.get(f"{url}/api/v2/alerts", timeout=5).json()
        alert = next((a for a in alerts if a["fingerprint"] == fingerprint), None)
        if alert is None:
            typer.echo(f"error: no alert {fingerprint}", err=True)
            raise typer.Exit(1)
        body = {
            "matchers": [
                {"name": k, "value": v, "isRegex": False, "isEqual": True} for k, v in alert["labels"].items()
            ],
            "startsAt": _iso(now),
            "endsAt": _iso(now + parse_duration(duration)),
            "createdBy": who,
            "comment": f"ack {fingerprint}",
        }
        response = httpx.post(f"{url}/api/v2/silences", json=body, timeout=5)
        response.raise_for_status()
        details = {"alertname": alert["labels"].get("alertname", ""), "silence": response.json()["silenceID"]}
        _audit(_data_dir(data_dir), "alert.acknowledged", by, fingerprint, url, details)
        typer.echo(f"acknowledged {fingerprint} with silence {response.json()['silenceID']}")
        return
    folder = _data_dir(data_dir)
    known = {a["fingerprint"]: a for s in store.read_states(folder) for a in s.get("alerts", [])}
    if fingerprint not in known:
        typer.echo(f"error: no alert {fingerprint}", err=True)
        raise typer.Exit(1)
    store.update_control(
        folder, lambda c: c.setdefault("acks", []).append({"fingerprint": fingerprint, "by": who, "at": now})
    )
    _audit(
        folder, "alert.acknowledged", by, fingerprint, None, {"alertname": known[fingerprint]["alertname"]}
    )
    typer.echo(f"acknowledged {fingerprint}")


@app.command()
def test(
    severity: Annotated[str, typer.Option("--severity")] = "page",
    notify_config: Annotated[
        Path | None, typer.Option("--notify-config", help="Default: OTEL_SECRETARY_NOTIFY_CONFIG.")
    ] = None,
    by: ByOption = None,
    alertmanager_url: UrlOption = None,
    local: LocalOption = False,
    data_dir: DataDirOption = None,
) -> None:
    """Send a test alert: to Alertmanager (it routes it), or straight to every configured channel."""
    now = time.time()
    labels = {"alertname": "OtelSecretaryTest", "severity": severity, "service_name": "otel-secretary-test"}
    annotations = {
        "summary": "Test alert from otel-secretary: please ignore",
        "runbook_url": "docs/alerting.md",
    }
    url = _alertmanager(alertmanager_url, local)
    if url:
        body = [
            {"labels": labels, "annotations": annotations, "startsAt": _iso(now), "endsAt": _iso(now + 300)}
        ]
        httpx.post(f"{url}/api/v2/alerts", json=body, timeout=5).raise_for_status()
        _audit(_data_dir(data_dir), "alert.test_sent", by, "OtelSecretaryTest", url, {"severity": severity})
        typer.echo("test alert posted to Alertmanager (ends in 5 minutes)")
        return
    from otel_secretary.notify.config import load_dispatcher

    dispatcher = load_dispatcher(notify_config or load_settings().notify_config)
    if dispatcher is None:
        typer.echo(
            "error: no notification config (set OTEL_SECRETARY_NOTIFY_CONFIG or --notify-config)", err=True
        )
        raise typer.Exit(1)
    notification = Notification(
        "test", "OtelSecretaryTest", severity, "0" * 16, labels, annotations, None, now, now
    )
    dispatcher.submit(notification)
    dispatcher.flush(60)
    dispatcher.close()
    details = {
        "severity": severity,
        "delivered": dispatcher.delivered,
        "failed": sorted(d.channel for d in dispatcher.failed),
    }
    _audit(_data_dir(data_dir), "alert.test_sent", by, "OtelSecretaryTest", None, details)
    for delivery in dispatcher.failed:
        typer.echo(f"FAILED {delivery.channel}: {delivery.last_error}", err=True)
    typer.echo(f"delivered to {dispatcher.delivered} channel(s), {len(dispatcher.failed)} failed")
    if dispatcher.failed:
        raise typer.Exit(1)


def _since(text: str | None) -> float | None:
    """``2h``/``7d`` back from now, or an ISO 8601 time (``2026-12-01T08:00:00Z``)."""
    if not text:
        return None
    try:
        return time.time() - parse_duration(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        typer.echo(f"error: --since {text!r} is neither a duration like 2h nor an ISO time", err=True)
        raise typer.Exit(2) from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def _alertmanager_silences(url: str, since: float | None, ours: set[str]) -> list[dict[str, Any]]:
    """Alertmanager's own silence records, as audit rows; those our CLI made are already in the log."""
    rows: list[dict[str, Any]] = []
    for item in httpx.get(f"{url}/api/v2/silences", timeout=5).json():
        if item.get("id") in ours:
            continue
        updated = datetime.fromisoformat(
            str(item.get("updatedAt") or item["startsAt"]).replace("Z", "+00:00")
        )
        if since is not None and updated.timestamp() < since:
            continue
        rows.append(
            {
                "time": updated.isoformat().replace("+00:00", "Z"),
                "ts": updated.timestamp(),
                "action": "silence.expired" if item["status"]["state"] == "expired" else "silence.created",
                "by": item.get("createdBy", ""),
                "by_source": "alertmanager",
                "target": item.get("id", ""),
                "where": f"alertmanager:{url}",
                "host": "",
                "pid": None,
                "command": "",
                "details": {
                    "matchers": [_matcher_text(m) for m in item.get("matchers", [])],
                    "endsAt": item.get("endsAt"),
                    "comment": item.get("comment", ""),
                    "recorded_by": "alertmanager (not through otel-secretary)",
                },
            }
        )
    return rows


@app.command("audit")
def audit_command(
    since: Annotated[
        str | None, typer.Option("--since", help="Only entries newer than this: 2h, 7d or an ISO time.")
    ] = None,
    alertmanager_url: UrlOption = None,
    local: LocalOption = False,
    data_dir: DataDirOption = None,
    output: OutputOption = OutputFormat.table,
) -> None:
    """Who silenced, expired, acknowledged, tested, rendered or changed rules and channels; oldest first.

    Reads the data folder's audit log; with an Alertmanager, its silences that were not made through
    otel-secretary (amtool, the web UI) are listed alongside, from Alertmanager's own records."""
    folder = _data_dir(data_dir)
    start = _since(since)
    rows = audit.read(folder, start)
    url = _alertmanager(alertmanager_url, local)
    if url:
        every = audit.read(folder)  # a silence made before --since is still ours
        ours = {str(r.get("target")) for r in every if str(r.get("action", "")).startswith("silence.")}
        ours |= {str(r["details"].get("silence")) for r in every if r.get("action") == "alert.acknowledged"}
        rows = sorted(rows + _alertmanager_silences(url, start, ours), key=lambda r: float(r.get("ts") or 0))
    if output is OutputFormat.json:
        typer.echo(json.dumps(rows, indent=1, sort_keys=True))
        return
    typer.echo(f"source: audit log in {folder}" + (f" and Alertmanager at {url}" if url else ""))
    if not rows:
        typer.echo("no audit entries")
        return
    typer.echo(f"{'TIME':<24}  {'ACTION':<22} {'BY':<24} {'TARGET':<34} WHERE")
    for row in rows:
        typer.echo(
            f"{row.get('time', ''):<24}  {row.get('action', ''):<22} {row.get('by', ''):<24} "
            f"{str(row.get('target', ''))[:34]:<34} {row.get('where', '')}"
        )
