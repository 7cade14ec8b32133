"""Issue 12 item 4: send_resolved per rule and per-instance labels, in the engine, PromQL and Alertmanager."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from otel_secretary.alerting.model import AlertInstance, fingerprint
from otel_secretary.rules import render
from otel_secretary.rules.engine import RuleEngine
from otel_secretary.rules.spec import RuleSpec, SpecError

from .conftest import ANNOTATIONS, Replay

Specs = Callable[[str], list[RuleSpec]]
QUIET = (
    """
rules:
  - name: Quiet
    kind: error_rate
    threshold: 0.5
    window: 1m
    send_resolved: false
    by: [service_name]
    selector: {service: api}
"""
    + ANNOTATIONS
)


def test_send_resolved_false_closes_the_alert_without_a_resolve_message(make_specs: Specs) -> None:
    replay = Replay(RuleEngine(make_specs(QUIET)))
    replay.run(3, 10, bad_share=1.0)
    replay.run(40, 10)
    assert [kind for _, kind, _ in replay.kinds()] == ["trigger"]
    assert not [a for a in replay.engine.alerts.values() if a.state == "firing"]
    replay.run(3, 10, bad_share=1.0)  # a new incident triggers again
    assert [kind for _, kind, _ in replay.kinds()] == ["trigger", "trigger"]


@pytest.mark.skipif(shutil.which("amtool") is None, reason="amtool (apt: prometheus-alertmanager) missing")
def test_send_resolved_false_is_routed_to_receivers_that_send_no_resolved(
    make_specs: Specs, tmp_path: Path
) -> None:
    specs = make_specs(QUIET)
    rules = render.render_rules(specs, "collector")
    alert = next(r for r in rules["groups"][0]["rules"] if "alert" in r)
    assert alert["labels"]["send_resolved"] == "false"
    files = render.render_all(specs)
    (tmp_path / "alertmanager.yml").write_text(files["alertmanager.yml"])
    subprocess.run(
        ["amtool", "check-config", "alertmanager.yml"], cwd=tmp_path, check=True, capture_output=True
    )

    def route(*labels: str) -> str:
        result = subprocess.run(
            ["amtool", "config", "routes", "test", "--config.file=alertmanager.yml", *labels],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=True,
        )
        return result.stdout.strip()

    assert route("severity=page", "send_resolved=false") == "pagerduty-no-resolve,slack-pages-no-resolve"
    assert route("severity=page") == "pagerduty,slack-pages"
    config = render.render_alertmanager(no_resolve=True)
    quiet = next(r for r in config["receivers"] if r["name"] == "pagerduty-no-resolve")
    assert quiet["pagerduty_configs"][0]["send_resolved"] is False
    assert render.render_alertmanager() == render._render_alertmanager()  # default output unchanged


def test_a_per_instance_label_is_refused_in_by(make_specs: Specs) -> None:
    with pytest.raises(SpecError, match="per-instance label") as caught:
        make_specs(QUIET.replace("by: [service_name]", "by: [service_name, collector_instance_id]"))
    assert caught.value.field == "rules[0].by" and caught.value.line == 8


def test_series_from_two_collectors_are_summed_in_the_engine_and_in_promql(make_specs: Specs) -> None:
    (spec,) = make_specs(
        """
rules:
  - name: Queue
    kind: threshold
    severity: ticket
    metric: otelcol.exporter.queue.size
    aggregate: sum
    by: [service_name]
    value: 100
"""
        + ANNOTATIONS
    )
    engine = RuleEngine([spec])
    for collector in ("collector-1", "collector-2"):
        attributes = {"service.name": "api", "collector_instance_id": collector}
        engine.observe_metric("otelcol.exporter.queue.size", attributes, 60.0, 30.0)
    engine.evaluate(60.0)
    (alert,) = engine.alerts.values()
    assert alert.value == 120.0 and "collector_instance_id" not in alert.labels  # 60 + 60 > 100
    expr, by = __import__("otel_secretary.rules.promql", fromlist=["x"]).threshold_expr(spec, "collector")
    assert expr.startswith("sum by (service_name) (") and "collector_instance_id" not in by


ROUTING = """
routing:
  repeat_interval: {page: 10m, ticket: 1h}
  inhibit:
    - {source: page, target: ticket, equal: [alertname, rule, service_name]}
"""


def test_routing_repeat_interval_and_inhibition_drive_the_engine(tmp_path: Path) -> None:
    from otel_secretary.rules.spec import load_dir, load_routing

    (tmp_path / "api.yaml").write_text(
        ROUTING
        + """
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
    routing = load_routing(tmp_path)
    assert routing is not None and routing.repeat_interval == {"page": 600, "ticket": 3600}
    engine = RuleEngine(load_dir(tmp_path), routing=routing)
    replay = Replay(engine)
    replay.run(60, 100)
    replay.run(25, 100, bad_share=1.0)
    pages = [kind for _, kind, _ in replay.kinds("page")]
    assert pages[:1] == ["trigger"] and pages.count("reminder") == 2  # every 10 minutes, not 4 h
    ticket = next(a for a in engine.alerts.values() if a.severity == "ticket")
    assert ticket.state == "firing" and ticket.suppressed_by.startswith("inhibited:")  # by the page
    # Inhibition needs equal values on `equal`: a rule comparing a label the two differ in mutes nothing.
    from dataclasses import replace

    assert routing.inhibit is not None
    engine.routing = replace(routing, inhibit=(replace(routing.inhibit[0], equal=("severity",)),))
    replay.run(1, 100, bad_share=1.0)
    assert ticket.suppressed_by == ""
    config = render.render_alertmanager(routing=routing)
    assert config["inhibit_rules"][0]["equal"] == ["alertname", "rule", "service_name"]
    page_routes = [r for r in config["route"]["routes"] if r["matchers"][0] == 'severity="page"']
    assert all(r["repeat_interval"] == "10m" for r in page_routes)


@pytest.mark.parametrize(
    ("routing", "field"),
    [
        ("routing:\n  repeat_interval: {urgent: 1h}\n", "routing.repeat_interval.urgent"),
        ("routing:\n  repeat_interval: {page: 30s}\n", "routing.repeat_interval.page"),
        ("routing:\n  inhibit:\n    - {source: page, target: page}\n", "routing.inhibit[0].target"),
        ("routing:\n  inhibit:\n    - {source: page, target: ticket, on: [x]}\n", "routing.inhibit[0].on"),
    ],
)
def test_routing_errors_name_file_line_and_field(tmp_path: Path, routing: str, field: str) -> None:
    from otel_secretary.rules.spec import load_routing

    (tmp_path / "r.yaml").write_text(routing + "rules: []\n")
    with pytest.raises(SpecError) as caught:
        load_routing(tmp_path)
    assert caught.value.field == field and str(caught.value).startswith(f"{tmp_path / 'r.yaml'}:")


ROUTES = """
routing:
  repeat_interval: {page: 1h}
  routes:
    - matchers: ['rule="Quiet"']
      send_resolved: false
    - matchers: ['rule=~"Lou.*"', 'severity="page"']
      repeat_interval: 10m
"""


def _routed_rules(tmp_path: Path) -> Path:
    tmp_path.mkdir(exist_ok=True)
    (tmp_path / "api.yaml").write_text(
        ROUTES
        + "rules:\n"
        + "".join(
            f"""
  - name: {name}
    kind: error_rate
    threshold: 0.5
    window: 1m
    by: [service_name]
    selector: {{service: {name.lower()}}}
    annotations:
      summary: "{{{{ $labels.service_name }}}} is failing"
      runbook_url: docs/runbooks/error-rate.md
"""
            for name in ("Quiet", "Loud", "Plain")
        )
    )
    return tmp_path


def test_routes_set_send_resolved_and_repeat_interval_in_the_engine(tmp_path: Path) -> None:
    from otel_secretary.rules.spec import load_dir, load_routing

    folder = _routed_rules(tmp_path)
    routing = load_routing(folder)
    assert routing is not None and len(routing.routes) == 2
    assert routing.routes[0].send_resolved is False and routing.routes[0].repeat_interval is None
    assert routing.routes[1].repeat_interval == 600 and routing.routes[1].line == 7
    engine = RuleEngine(load_dir(folder), routing=routing)
    sent: dict[str, list[str]] = {"Quiet": [], "Loud": [], "Plain": []}
    for minute in range(75):  # 65 minutes of outage on the three services, then 10 healthy minutes
        for service in ("quiet", "loud", "plain"):
            engine.observe_span(service, "GET /x", "server", minute < 65, 0.01, minute * 60 + 30, count=10)
        for notification in engine.evaluate((minute + 1) * 60):
            sent[notification.labels["rule"]].append(notification.kind)
    assert sent["Quiet"] == ["trigger"] + ["reminder"] * 1  # its route: no resolve message
    assert sent["Plain"] == ["trigger", "reminder", "resolve"]  # hourly reminders (page severity)
    assert sent["Loud"] == ["trigger"] + ["reminder"] * 6 + ["resolve"]  # its route: every 10 minutes
    assert not [a for a in engine.alerts.values() if a.state == "firing"]  # the Quiet alert closed too


@pytest.mark.skipif(shutil.which("amtool") is None, reason="amtool (apt: prometheus-alertmanager) missing")
def test_routes_are_rendered_so_alertmanager_agrees_with_the_engine(tmp_path: Path) -> None:
    from otel_secretary.rules.notifications import NotificationPolicy
    from otel_secretary.rules.spec import load_dir, load_routing

    folder = _routed_rules(tmp_path / "rules")
    specs, routing = load_dir(folder), load_routing(folder)
    assert routing is not None
    # A rule-level send_resolved: false too, so routes and the label twins must combine.
    specs = [specs[0], replace(specs[1], send_resolved=False), replace(specs[2], send_resolved=False)]
    files = render.render_all(specs, routing=routing)
    (tmp_path / "alertmanager.yml").write_text(files["alertmanager.yml"])
    subprocess.run(
        ["amtool", "check-config", "alertmanager.yml"], cwd=tmp_path, check=True, capture_output=True
    )
    policy = NotificationPolicy(4 * 3600.0, routing, {s.name: s for s in specs})

    def receivers(labels: dict[str, str]) -> list[str]:
        args = [f"{k}={v}" for k, v in labels.items()]
        result = subprocess.run(
            ["amtool", "config", "routes", "test", "--config.file=alertmanager.yml", *args],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=True,
        )
        return result.stdout.strip().split(",")

    cases = [
        {"rule": "Quiet", "severity": "page"},
        {"rule": "Quiet", "severity": "ticket"},
        {"rule": "Loud", "severity": "page", "send_resolved": "false"},  # the label twins inside a route
        {"rule": "Loud", "severity": "ticket", "send_resolved": "false"},
        {"rule": "Plain", "severity": "page", "send_resolved": "false"},
        {"rule": "Plain", "severity": "ticket", "send_resolved": "false"},  # the rule's label (rendered)
    ]
    for labels in cases:
        alert = AlertInstance("A", labels, {}, fingerprint(labels), labels["severity"])
        names = receivers(labels)
        quiet = [name.endswith("-no-resolve") for name in names]
        assert len(set(quiet)) == 1, (labels, names)
        assert quiet[0] == (not policy.send_resolved(alert)), (labels, names)
    config = yaml.safe_load(files["alertmanager.yml"])
    loud = next(r for r in config["route"]["routes"] if r["matchers"][0] == 'rule=~"Lou.*"')
    assert loud["repeat_interval"] == "10m" and {c["repeat_interval"] for c in loud["routes"]} == {"10m"}
    for severity, repeat in (("page", 600), ("ticket", 4 * 3600)):  # the Loud route needs severity="page"
        labels = {"rule": "Loud", "severity": severity}
        assert policy.repeat_interval(AlertInstance("A", labels, {}, fingerprint(labels), severity)) == repeat
    assert receivers({"rule": "Loud", "severity": "page"}) == ["pagerduty", "slack-pages"]
    assert receivers({"rule": "Loud", "severity": "page", "send_resolved": "false"}) == [
        "pagerduty-no-resolve",
        "slack-pages-no-resolve",
    ]


@pytest.mark.parametrize(
    ("routes", "field", "line"),
    [
        ("    - {matchers: []}\n", "routing.routes[0].matchers", 3),
        ("    - {matchers: ['rule=~\"(?=x)\"'], send_resolved: false}\n", "routing.routes[0].matchers[0]", 3),
        ("    - matchers: ['rule=\"A\"']\n", "routing.routes[0]", 3),
        ("    - {matchers: ['rule=\"A\"'], repeat_interval: 10s}\n", "routing.routes[0].repeat_interval", 3),
        ("    - {matchers: ['rule=\"A\"'], send_resolved: maybe}\n", "routing.routes[0].send_resolved", 3),
        (
            "    - {matchers: ['rule=\"A\"'], send_resolved: false, group_by: [x]}\n",
            "routing.routes[0].group_by",
            3,
        ),
        ("    - {matchers: ['not a matcher'], send_resolved: false}\n", "routing.routes[0].matchers[0]", 3),
    ],
)
def test_route_errors_name_file_line_and_field(tmp_path: Path, routes: str, field: str, line: int) -> None:
    from otel_secretary.rules.spec import load_routing

    (tmp_path / "r.yaml").write_text("routing:\n  routes:\n" + routes + "rules: []\n")
    with pytest.raises(SpecError) as caught:
        load_routing(tmp_path)
    assert caught.value.field == field and caught.value.line == line, str(caught.value)
    assert str(caught.value).startswith(f"{tmp_path / 'r.yaml'}:{line}:")
