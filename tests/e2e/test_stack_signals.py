"""What the stack itself contributes besides the apps' telemetry: the generated alert rules loaded and
evaluating, host metrics under the names rules/system.yaml queries, and Redis health metrics."""

from __future__ import annotations

import re
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from otel_secretary.stack.binaries import repo_root
from tests.e2e._apis import eventually
from tests.e2e.conftest import SYSTEM_RULES, RunningStack

pytestmark = pytest.mark.e2e

GENERATED = repo_root() / "generated"


def _group_names(folder: Path) -> set[str]:
    return {
        group["name"]
        for path in folder.glob("*.rules.yml")
        for group in (yaml.safe_load(path.read_text()) or {}).get("groups", [])
    }


def _rule_groups(running_stack: RunningStack) -> list[dict[str, Any]]:
    response = httpx.get(f"{running_stack.stack.prometheus_url}/api/v1/rules", timeout=10)
    response.raise_for_status()
    return list(response.json()["data"]["groups"])


def test_every_generated_collector_rule_group_is_loaded_and_evaluates_healthy(
    running_stack: RunningStack,
) -> None:
    expected = _group_names(GENERATED / "collector")
    assert len(expected) >= 10  # guards the glob: the generator writes one group per rule spec

    def healthy() -> list[dict[str, Any]] | None:
        groups = [g for g in _rule_groups(running_stack) if g["name"] in expected]
        if {g["name"] for g in groups} != expected:
            return None
        # A rule is "unknown" until its group's first evaluation, "err" when the query fails.
        return groups if all(r["health"] == "ok" for g in groups for r in g["rules"]) else None

    groups = eventually(healthy, timeout=30, what="all generated groups loaded with health ok")
    alerts = {r["name"] for g in groups for r in g["rules"] if r["type"] == "alerting"}
    assert {"HighCPUUsage", "HighMemoryUsage", "DiskAlmostFull", "HighSystemLoad", "RedisErrors"} <= alerts
    # The SDK flavour covers the same alerts over the apps' own metrics; loading it too would fire twice.
    loaded = {g["name"] for g in _rule_groups(running_stack)}
    assert not loaded & _group_names(GENERATED / "sdk")


def _metric_names_in(expr: str) -> set[str]:
    without_groupings = re.sub(r"\b(by|without)\s*\([^)]*\)", "", expr)  # label names, not metrics
    return set(re.findall(r"\bsystem_[a-z0-9_]+", without_groupings))


def test_host_metrics_reach_prometheus_under_the_names_the_system_rules_query(
    running_stack: RunningStack,
) -> None:
    queried: set[str] = set()
    for name in ("HighCPUUsage", "HighMemoryUsage", "DiskAlmostFull", "HighSystemLoad"):
        document = yaml.safe_load((GENERATED / "collector" / f"{name}.rules.yml").read_text())
        for group in document["groups"]:
            for rule in group["rules"]:
                queried |= _metric_names_in(rule["expr"])
    assert queried == {
        "system_cpu_utilization_ratio",
        "system_memory_utilization_ratio",
        "system_filesystem_utilization_ratio",
        "system_cpu_load_average_15m",
    }
    prom = running_stack.prometheus
    for metric in sorted(queried):
        # From the collector's hostmetrics receiver (job otelcol-exporter), not the app's in-process gauges.
        selector = f'{metric}{{job="otelcol-exporter"}}'
        eventually(partial(prom.query, selector), timeout=30, what=f"{metric} series")
    idle = prom.query('system_cpu_utilization_ratio{job="otelcol-exporter", state="idle"}')
    assert all(0.0 <= float(r["value"][1]) <= 1.0 for r in idle)
    filesystems = prom.query('system_filesystem_utilization_ratio{job="otelcol-exporter"}')
    # Only real filesystems: squashfs images are always 100% full and would page DiskAlmostFull.
    assert all(r["metric"].get("type") not in {"squashfs", "tmpfs", "overlay"} for r in filesystems)
    # The rules' own expressions evaluate to a number over these series (firing is a threshold away).
    for expr in (
        '1 - avg(system_cpu_utilization_ratio{state="idle"})',
        'max(system_memory_utilization_ratio{state="used"})',
        "max(system_filesystem_utilization_ratio)",
        "max(system_cpu_load_average_15m)",
    ):
        (result,) = prom.query(expr)
        assert float(result["value"][1]) >= 0.0, expr


def test_the_system_alerts_fire_over_the_collectors_host_metrics(running_stack: RunningStack) -> None:
    """Each shipped system alert's own expression, threshold lowered to 0, fires in Prometheus: the series
    it needs exist with the labels it selects on (a wrong metric or label name would never fire)."""

    def firing() -> set[str] | None:
        names = {
            a["labels"]["alertname"] for a in running_stack.prometheus.alerts() if a["state"] == "firing"
        }
        wanted = {f"E2E{name}" for name in SYSTEM_RULES}
        return names & wanted if wanted <= names else None

    eventually(firing, timeout=30, what="every E2E system alert firing")


def test_a_ticket_alert_goes_through_the_generated_routing_to_slack_alerts_and_e_mail(
    running_stack: RunningStack,
) -> None:
    """HighCPUUsage is a ticket: the generated routing sends it to Slack #alerts and to the on-call
    mailbox (a real SMTP server here), and not to PagerDuty."""
    alert = "E2EHighCPUUsage"
    mail = eventually(lambda: running_stack.mailbox.about(alert), timeout=30, what=f"e-mail about {alert}")
    assert mail[0]["To"] == "oncall@example.com" and mail[0]["From"] == "alerts@example.com"
    slack = eventually(
        lambda: running_stack.webhook.received(alert, "/slack"),
        timeout=30,
        what=f"Slack message about {alert}",
    )
    assert {m["channel"] for m in slack} == {"#alerts"}
    assert not running_stack.webhook.received(alert, "/pagerduty")


def test_redis_health_metrics_reach_prometheus(running_stack: RunningStack) -> None:
    prom = running_stack.prometheus
    clients = eventually(
        lambda: prom.query("redis_clients_connected"),
        timeout=30,
        what="redis_clients_connected",
    )
    assert float(clients[0]["value"][1]) >= 1  # at least the receiver's own connection
    for metric in ("redis_memory_used_bytes", "redis_keyspace_hits_total", "redis_keyspace_misses_total"):
        eventually(partial(prom.query, metric), timeout=30, what=metric)
