"""The multi-node topology of docs/scaling.md on loopback: one agent load-balancing by trace id over two
gateways, which tail-sample with the shipped policy, export to the stack's Jaeger and remote-write span
metrics to its Prometheus."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode

from otel_secretary.stack import find
from otel_secretary.stack.binaries import repo_root
from tests.e2e._apis import eventually, parent_id, spans_of
from tests.e2e.conftest import RunningStack
from tests.support.processes import Proc, free_port

pytestmark = pytest.mark.e2e

SCALING = repo_root() / "collector-config" / "scaling"
PII_CONFIG = repo_root() / "generated" / "pii-redaction.yaml"
SPANMETRICS_CONFIG = repo_root() / "generated" / "otelcol-spanmetrics.yaml"
SERVICE = "e2e-scaling"
OK_TRACES, ERROR_TRACES = 40, 10


def _accepted_spans(telemetry_port: int) -> float:
    text = httpx.get(f"http://127.0.0.1:{telemetry_port}/metrics", timeout=5).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("otelcol_receiver_accepted_spans") and 'receiver="otlp"' in line
    )


@pytest.fixture(scope="module")
def topology(
    running_stack: RunningStack, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, int]]:
    logs = tmp_path_factory.mktemp("scaling")
    binary = str(find("otelcol-secretary"))
    ports = {name: free_port() for name in ("g1", "g1_health", "g1_tel", "g2", "g2_health", "g2_tel")}
    ports |= {name: free_port() for name in ("agent_http", "agent_grpc", "agent_health", "agent_tel")}
    base_env = dict(os.environ)
    procs: list[Proc] = []
    try:
        for gw in ("g1", "g2"):
            env = base_env | {
                "GATEWAY_OTLP_ENDPOINT": f"127.0.0.1:{ports[gw]}",
                "GATEWAY_HEALTH_ENDPOINT": f"127.0.0.1:{ports[gw + '_health']}",
                "GATEWAY_TELEMETRY_PORT": str(ports[gw + "_tel"]),
                "TRACES_OTLP_ENDPOINT": f"127.0.0.1:{running_stack.stack.ports.jaeger_otlp_grpc}",
                "PROMETHEUS_REMOTE_WRITE_URL": f"{running_stack.stack.prometheus_url}/api/v1/write",
                "TAIL_SAMPLING_DECISION_WAIT": "3s",
                "SPAN_METRICS_FLUSH_INTERVAL": "1s",
            }
            configs = ["--config", str(SCALING / "gateway.yaml"), "--config", str(SPANMETRICS_CONFIG)]
            proc = Proc(f"gateway-{gw}", [binary, *configs], env, Path(logs))
            procs.append(proc)
            proc.wait_http(f"http://127.0.0.1:{ports[gw + '_health']}/", 30)
        agent_env = base_env | {
            "AGENT_OTLP_HTTP_ENDPOINT": f"127.0.0.1:{ports['agent_http']}",
            "AGENT_OTLP_GRPC_ENDPOINT": f"127.0.0.1:{ports['agent_grpc']}",
            "AGENT_HEALTH_ENDPOINT": f"127.0.0.1:{ports['agent_health']}",
            "AGENT_TELEMETRY_PORT": str(ports["agent_tel"]),
            "GATEWAY_1_OTLP_ENDPOINT": f"127.0.0.1:{ports['g1']}",
            "GATEWAY_2_OTLP_ENDPOINT": f"127.0.0.1:{ports['g2']}",
        }
        configs = ["--config", str(SCALING / "agent.yaml")]
        if PII_CONFIG.is_file():
            configs += ["--config", str(PII_CONFIG)]
        agent = Proc("agent", [binary, *configs], agent_env, Path(logs))
        procs.append(agent)
        agent.wait_http(f"http://127.0.0.1:{ports['agent_health']}/", 30)
        yield ports
    finally:
        for proc in reversed(procs):
            proc.stop()


def _send(agent_http_port: int) -> tuple[list[str], list[str]]:
    """Each span is its own export request (SimpleSpanProcessor), child before parent, so a trace only
    arrives whole at one gateway if the agent routes by trace id."""
    provider = TracerProvider(resource=Resource.create({"service.name": SERVICE}))
    exporter = OTLPSpanExporter(endpoint=f"http://127.0.0.1:{agent_http_port}/v1/traces")
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("e2e-scaling")
    ok: list[str] = []
    failed: list[str] = []
    for i in range(OK_TRACES + ERROR_TRACES):
        with (
            tracer.start_as_current_span("POST /api/v1/meetings", kind=SpanKind.SERVER) as root,
            tracer.start_as_current_span("calendar.events.insert", kind=SpanKind.CLIENT) as child,
        ):
            if i < ERROR_TRACES:
                child.set_status(Status(StatusCode.ERROR, "quota exceeded"))
        trace_id = format(root.get_span_context().trace_id, "032x")
        (failed if i < ERROR_TRACES else ok).append(trace_id)
    provider.shutdown()
    return ok, failed


def test_trace_id_load_balancing_keeps_whole_traces_for_tail_sampling(
    running_stack: RunningStack, topology: dict[str, int]
) -> None:
    ok, failed = _send(topology["agent_http"])
    jaeger = running_stack.jaeger

    def stored() -> dict[str, dict[str, Any]] | None:
        traces = {t["traceID"]: t for t in jaeger.traces(SERVICE, limit=1000)}
        return traces if set(failed) <= traces.keys() else None

    traces = eventually(stored, timeout=60, what="every error trace in Jaeger")
    time.sleep(4)  # one more decision_wait, so late sampled OK traces are in too
    traces = {t["traceID"]: t for t in jaeger.traces(SERVICE, limit=1000)}
    # Every error trace is kept, and kept whole: the root (no error itself) rode along with its child.
    for trace_id in failed:
        names = sorted(s["operationName"] for s in spans_of(traces[trace_id]))
        assert names == ["POST /api/v1/meetings", "calendar.events.insert"], trace_id
        spans = spans_of(traces[trace_id])
        child = next(s for s in spans if s["operationName"] == "calendar.events.insert")
        root = next(s for s in spans if s["operationName"] == "POST /api/v1/meetings")
        assert parent_id(child) == root["spanID"]
    # The shipped policy keeps only a share of the healthy traces (25%; 40 of 40 kept has odds ~1e-24).
    kept_ok = [t for t in ok if t in traces]
    assert len(kept_ok) < OK_TRACES
    for trace_id in kept_ok:
        assert len(spans_of(traces[trace_id])) == 2
    # Both gateways did work: the balancer spread the traces.
    assert _accepted_spans(topology["g1_tel"]) > 0
    assert _accepted_spans(topology["g2_tel"]) > 0
    assert _accepted_spans(topology["g1_tel"]) + _accepted_spans(topology["g2_tel"]) == 2 * (
        OK_TRACES + ERROR_TRACES
    )


def test_gateways_remote_write_span_metrics_into_prometheus(
    running_stack: RunningStack, topology: dict[str, int]
) -> None:
    prom = running_stack.prometheus

    def all_calls_counted() -> list[dict[str, Any]]:
        result = prom.query(f'traces_span_metrics_calls_total{{service_name="{SERVICE}"}}')
        total = sum(float(r["value"][1]) for r in result)
        return result if total == 2 * (OK_TRACES + ERROR_TRACES) else []

    if not prom.query(f'traces_span_metrics_calls_total{{service_name="{SERVICE}"}}'):
        _send(topology["agent_http"])  # this test alone: produce the traffic
    result = eventually(all_calls_counted, timeout=60, what="remote-written span metrics")
    # Each gateway reports its share under its own instance id; queries sum it away.
    assert len({r["metric"]["collector_instance_id"] for r in result}) == 2
    errors = prom.query(
        f'sum(traces_span_metrics_calls_total{{service_name="{SERVICE}", status_code="STATUS_CODE_ERROR"}})'
    )
    assert float(errors[0]["value"][1]) == ERROR_TRACES
