"""One isolated stack for the whole e2e session: free ports, a temporary state folder, short intervals so
the suite takes about a minute rather than the production cadence (15 s scrapes, 10 s sampling decisions,
1 m rule groups). Alerts go through the generated routing to local PagerDuty/Slack stand-ins, and the
collector watches a Redis that the example app then uses as its broker."""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from otel_secretary.stack import Stack, StackOptions, StackPorts
from otel_secretary.stack.binaries import repo_root
from otel_secretary.stack.render import local_alert_routing
from tests.e2e._apis import (
    Alertmanager,
    Jaeger,
    Mailbox,
    Prometheus,
    WebhookReceiver,
    smtp_mailbox,
    webhook_receiver,
)
from tests.support.processes import start_redis

# Short-window error-rate alert over the span metrics (the generated SLO rules use 5m..6h windows; this
# one fires within seconds). Same metric and label names as the generated rules, and like them a page and a
# ticket tier with the same labels, so the generated inhibition (page mutes ticket) is exercised.
_E2E_EXPR = (
    'sum by (service_name) (rate(traces_span_metrics_calls_total{status_code="STATUS_CODE_ERROR"}[20s]))'
    " / sum by (service_name) (rate(traces_span_metrics_calls_total[20s])) > 0.2"
)
E2E_RULES = f"""\
groups:
  - name: e2e-error-rate
    rules:
      - alert: E2EHighErrorRate
        expr: |
          {_E2E_EXPR}
        labels:
          severity: page
        annotations:
          summary: "{{{{ $labels.service_name }}}} fails {{{{ $value | humanizePercentage }}}} of its calls"
      - alert: E2EHighErrorRate
        expr: |
          {_E2E_EXPR}
        labels:
          severity: ticket
        annotations:
          summary: "ticket tier of the same alert"
"""


SYSTEM_RULES = ("HighCPUUsage", "HighMemoryUsage", "DiskAlmostFull", "HighSystemLoad")


def system_rules_at_threshold_zero() -> dict[str, Any]:
    """The shipped system alerts with their threshold lowered to 0 and no `for`, renamed E2E<name>: the
    very expressions, firing within seconds over the collector's real host metrics."""
    rules = []
    for name in SYSTEM_RULES:
        generated = repo_root() / "generated" / "collector" / f"{name}.rules.yml"
        for group in yaml.safe_load(generated.read_text())["groups"]:
            for rule in group["rules"]:
                if rule.get("alert") == name:
                    expr, count = re.subn(r">\s*[0-9.]+\s*$", ">= 0", rule["expr"].strip())
                    assert count == 1, f"{name}: threshold not found in {rule['expr']!r}"
                    rules.append({"alert": f"E2E{name}", "expr": expr, "labels": rule["labels"]})
    return {"groups": [{"name": "e2e-system-rules-at-zero", "rules": rules}]}


@dataclass
class RunningStack:
    stack: Stack
    jaeger: Jaeger
    prometheus: Prometheus
    alertmanager: Alertmanager
    webhook: WebhookReceiver
    mailbox: Mailbox
    redis_url: str

    @property
    def otlp_http(self) -> str:
        return self.stack.otlp_http_endpoint


@pytest.fixture(scope="session")
def running_stack() -> Iterator[RunningStack]:
    # Not under pytest's basetemp: concurrent pytest sessions prune each other's old basetemps, and this
    # folder holds a live Prometheus TSDB. Kept after a failed session for its logs.
    state = Path(tempfile.mkdtemp(prefix="otel-secretary-e2e-stack-"))
    rules = state / "e2e-rules.yml"
    rules.write_text(E2E_RULES)
    system_rules = state / "e2e-system-rules.yml"
    system_rules.write_text(yaml.safe_dump(system_rules_at_threshold_zero(), sort_keys=False))
    (state / "logs").mkdir()
    redis, redis_url = start_redis(state / "logs")
    with webhook_receiver() as webhook, smtp_mailbox() as mailbox:
        ports = StackPorts.free(alert_webhook=webhook.port)
        routing = replace(local_alert_routing(ports), smtp_smarthost=f"127.0.0.1:{mailbox.port}")
        options = StackOptions(
            scrape_interval="1s",
            evaluation_interval="1s",
            rule_files=[rules, system_rules],
            rule_group_interval="1s",
            generated_alert_routing=routing,
            alertmanager_group_wait="1s",
            alertmanager_group_interval="2s",
            redis_endpoint=redis_url.removeprefix("redis://").split("/")[0],
            # tests/e2e/test_scaling.py's gateways remote-write span metrics into this Prometheus.
            remote_write_receiver=True,
            collector_overrides={
                "receivers": {
                    "hostmetrics": {"collection_interval": "1s"},
                    "redis": {"collection_interval": "1s"},
                },
                "connectors": {"span_metrics": {"metrics_flush_interval": "1s"}},
                # Keep every trace in the test stack so trace-shape assertions are deterministic; the
                # shipped sampling policy is exercised by tests/e2e/test_scaling.py.
                "processors": {
                    "tail_sampling": {
                        "decision_wait": "2s",
                        "policies": [{"name": "all", "type": "always_sample"}],
                    },
                    "batch": {"timeout": "200ms"},
                },
            },
        )
        stack = Stack(state, ports, options=options)
        try:
            stack.up(build=True, timeout=120)
            yield RunningStack(
                stack,
                Jaeger(stack.jaeger_url),
                Prometheus(stack.prometheus_url),
                Alertmanager(stack.alertmanager_url),
                webhook,
                mailbox,
                redis_url,
            )
        finally:
            stack.down()
            redis.stop()
    shutil.rmtree(state, ignore_errors=True)
