"""One isolated stack for the whole e2e session: free ports, a temporary state folder, short intervals so
the suite takes about a minute rather than the production cadence (15 s scrapes, 10 s sampling decisions)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from otel_secretary.stack import Stack, StackOptions, StackPorts
from tests.e2e._apis import Alertmanager, Jaeger, Prometheus, WebhookReceiver, webhook_receiver

# Short-window error-rate alert over the span metrics (the generated SLO rules use 5m..6h windows; this
# one fires within seconds). Same metric and label names as the generated rules.
E2E_RULES = """\
groups:
  - name: e2e-error-rate
    rules:
      - alert: E2EHighErrorRate
        expr: |
          sum by (service_name) (rate(traces_span_metrics_calls_total{status_code="STATUS_CODE_ERROR"}[20s]))
            / sum by (service_name) (rate(traces_span_metrics_calls_total[20s])) > 0.2
        labels:
          severity: page
        annotations:
          summary: "{{ $labels.service_name }} fails {{ $value | humanizePercentage }} of its calls"
"""


@dataclass
class RunningStack:
    stack: Stack
    jaeger: Jaeger
    prometheus: Prometheus
    alertmanager: Alertmanager
    webhook: WebhookReceiver

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
    with webhook_receiver() as webhook:
        options = StackOptions(
            scrape_interval="1s",
            evaluation_interval="1s",
            rule_files=[rules],
            alertmanager_group_wait="1s",
            alertmanager_group_interval="2s",
            collector_overrides={
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
        stack = Stack(state, StackPorts.free(alert_webhook=webhook.port), options=options)
        stack.up(build=True, timeout=120)
        try:
            yield RunningStack(
                stack,
                Jaeger(stack.jaeger_url),
                Prometheus(stack.prometheus_url),
                Alertmanager(stack.alertmanager_url),
                webhook,
            )
        finally:
            stack.down()
    shutil.rmtree(state, ignore_errors=True)
