"""What `stack status` says beyond "running": telemetry the pipeline lost, counted where it was lost.

Two sources, both read at the moment of asking:

* the collector's own telemetry (``/metrics`` on its telemetry port): batches an exporter failed to send
  or could not queue, and data a receiver refused (memory limiter, auth), by component;
* Prometheus: what the apps' otel-secretary SDK counted and exported (``otel_secretary_telemetry_dropped
  _total`` by signal and reason, ``otel_secretary_internal_errors_total`` by place), by job (service).

An app whose exports fail cannot deliver its own counters through the collector; it says so on its
stderr instead (see docs/stack.md, "When telemetry is lost").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import httpx

_COLLECTOR_LOSS = re.compile(
    r"^otelcol_(exporter_send_failed|exporter_enqueue_failed|receiver_refused|receiver_failed)"
    r"_(spans|metric_points|log_records)(?:_total)?\{([^}]*)\} ([0-9.e+]+)$"
)
_LABEL = re.compile(r'(\w+)="([^"]*)"')


@dataclass(frozen=True)
class Loss:
    where: str  # "collector" or a job (service) name
    what: str  # e.g. "spans exporter_send_failed (otlp_grpc/jaeger)"
    count: float


def collector_losses(telemetry_url: str, timeout: float = 3.0) -> list[Loss]:
    text = httpx.get(telemetry_url, timeout=timeout).text
    totals: dict[str, float] = {}
    for line in text.splitlines():
        match = _COLLECTOR_LOSS.match(line)
        if not match or float(match.group(4)) <= 0:
            continue
        labels = dict(_LABEL.findall(match.group(3)))
        component = labels.get("exporter") or labels.get("receiver") or "?"
        what = f"{match.group(2)} {match.group(1)} ({component})"
        totals[what] = totals.get(what, 0.0) + float(match.group(4))
    return [Loss("collector", what, count) for what, count in sorted(totals.items())]


def _query(prometheus_url: str, promql: str, timeout: float) -> list[dict[str, object]]:
    response = httpx.get(f"{prometheus_url}/api/v1/query", params={"query": promql}, timeout=timeout)
    response.raise_for_status()
    return list(response.json()["data"]["result"])


DROPPED = "sum by (job, signal, reason) (otel_secretary_telemetry_dropped_total) > 0"
INTERNAL_ERRORS = "sum by (job, otel_secretary_where) (otel_secretary_internal_errors_total) > 0"


def app_losses(prometheus_url: str, timeout: float = 3.0) -> list[Loss]:
    losses = []
    for item in _query(prometheus_url, DROPPED, timeout):
        metric, value = item["metric"], item["value"]
        assert isinstance(metric, dict) and isinstance(value, list)
        what = f"{metric.get('signal')} {metric.get('reason')}"
        losses.append(Loss(str(metric.get("job", "?")), what, float(value[1])))
    for item in _query(prometheus_url, INTERNAL_ERRORS, timeout):
        metric, value = item["metric"], item["value"]
        assert isinstance(metric, dict) and isinstance(value, list)
        what = f"internal error in {metric.get('otel_secretary_where', '?')}"
        losses.append(Loss(str(metric.get("job", "?")), what, float(value[1])))
    return losses
