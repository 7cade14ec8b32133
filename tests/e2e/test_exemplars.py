"""Exemplars end to end (issue 17 item 1): from a latency metric to the trace, through the real stack.

Two paths, each checked through Prometheus' own API (``/api/v1/query_exemplars``) and Jaeger's:

* the collector's span metrics: the span_metrics connector attaches trace ids to the duration buckets,
  the prometheus exporter exposes them (OpenMetrics), Prometheus stores them (exemplar storage);
* the SDK: a histogram recorded inside a sampled span carries that span's trace id (the SDK's default
  ``trace_based`` exemplar filter) over OTLP to the collector, and on to Prometheus the same way; a
  measurement outside any sampled span carries none.
"""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.trace import SpanKind, Status, StatusCode

from tests.e2e._apis import eventually
from tests.e2e._otlp import plain_tracer_provider
from tests.e2e.conftest import RunningStack
from tests.support.processes import REPO
from tests.support.promql import substitute

pytestmark = pytest.mark.e2e


def _exemplars(prometheus_url: str, query: str) -> list[dict[str, Any]]:
    now = time.time()
    response = httpx.get(
        f"{prometheus_url}/api/v1/query_exemplars",
        params={"query": query, "start": str(now - 900), "end": str(now + 60)},
        timeout=10,
    )
    response.raise_for_status()
    return [e for series in response.json()["data"] or [] for e in series["exemplars"]]


def _panel_expr(fragment: str, service: str) -> str:
    """The first Application Performance target that asks for exemplars and reads ``fragment``."""
    board = json.loads((REPO / "generated" / "dashboards" / "otel-secretary-performance.json").read_text())
    for panel in board["panels"]:
        for target in panel.get("targets", []):
            if target["exemplar"] and fragment in target["expr"] and "traces_span_metrics" in target["expr"]:
                return substitute(str(target["expr"]).replace("$service", service))
    raise AssertionError(f"no exemplar target with {fragment!r} on the performance board")


def _trace_in_jaeger(jaeger_url: str, trace_id: str) -> dict[str, Any] | None:
    response = httpx.get(f"{jaeger_url}/api/traces/{trace_id}", timeout=10)
    if response.status_code != 200:
        return None
    data = response.json().get("data") or []
    return data[0] if data else None


def test_span_metrics_exemplar_resolves_to_the_trace_in_jaeger(running_stack: RunningStack) -> None:
    service = "exemplar-spanmetrics"
    provider = plain_tracer_provider(running_stack.otlp_http, service)
    tracer = provider.get_tracer("exemplars")
    made: set[str] = set()
    query = f'traces_span_metrics_duration_seconds_bucket{{service_name="{service}"}}'

    def request_then_look() -> list[dict[str, Any]]:
        # Steady traffic, as in production: the connector keeps a flush interval's exemplars, so a
        # scrape sees the spans of the last flush; one burst could fall between two scrapes.
        with tracer.start_as_current_span("GET /exemplar", kind=SpanKind.SERVER) as span:
            span.set_status(Status(StatusCode.ERROR, "synthetic failure"))
            made.add(format(span.get_span_context().trace_id, "032x"))
        provider.force_flush()
        return _exemplars(running_stack.prometheus.url, query)

    exemplars = eventually(request_then_look, what="span-metrics exemplars")
    provider.shutdown()
    trace_ids = {e["labels"]["trace_id"] for e in exemplars}
    assert trace_ids <= made, (trace_ids, made)  # every exemplar points at one of our spans
    # What Grafana asks for a generated panel whose target says "exemplar": the panel's own expression.
    for kind in ("histogram_quantile", "status_code"):
        expr = _panel_expr(kind, service)
        from_panel = {e["labels"]["trace_id"] for e in _exemplars(running_stack.prometheus.url, expr)}
        assert from_panel and from_panel <= made, (kind, expr, from_panel)
    trace_id = sorted(trace_ids)[0]
    found = eventually(
        lambda: _trace_in_jaeger(running_stack.jaeger.url, trace_id), what="the trace in Jaeger"
    )
    assert [s["operationName"] for s in found["spans"]] == ["GET /exemplar"]
    assert found["traceID"] == trace_id


def test_sdk_histogram_exemplar_comes_from_a_sampled_span_only(running_stack: RunningStack) -> None:
    service = "exemplar-sdk"
    tracer_provider = plain_tracer_provider(running_stack.otlp_http, service)
    reader = PeriodicExportingMetricReader(
        OTLPMetricExporter(endpoint=f"{running_stack.otlp_http}/v1/metrics"), export_interval_millis=60_000
    )
    meter_provider = MeterProvider(
        resource=Resource.create({"service.name": service}), metric_readers=[reader]
    )  # exemplar filter: the SDK default, trace_based (OTEL_METRICS_EXEMPLAR_FILTER)
    histogram = meter_provider.get_meter("exemplars").create_histogram("app.exemplar.duration", unit="s")
    tracer = tracer_provider.get_tracer("exemplars")
    sampled: set[str] = set()
    query = f'app_exemplar_duration_seconds_bucket{{job="{service}"}}'

    def request_then_look() -> list[tuple[str | None, str | None]]:
        with tracer.start_as_current_span("POST /sampled", kind=SpanKind.SERVER) as span:
            histogram.record(0.42, {"outcome": "sampled"})
            sampled.add(format(span.get_span_context().trace_id, "032x"))
        histogram.record(0.42, {"outcome": "no-span"})  # no active span: nothing to link, no exemplar
        tracer_provider.force_flush()
        meter_provider.force_flush()
        now = time.time()
        answer = httpx.get(
            f"{running_stack.prometheus.url}/api/v1/query_exemplars",
            params={"query": query, "start": str(now - 900), "end": str(now + 60)},
            timeout=10,
        ).json()["data"]
        return [
            (s["seriesLabels"].get("outcome"), e["labels"].get("trace_id"))
            for s in answer
            for e in s["exemplars"]
        ]

    found_pairs = eventually(request_then_look, what="SDK exemplars")
    # Both series exist (the no-span one too), but only the sampled one carries exemplars, our trace ids.
    assert running_stack.prometheus.query(
        f'app_exemplar_duration_seconds_bucket{{job="{service}",outcome="no-span"}}'
    )
    assert {outcome for outcome, _ in found_pairs} == {"sampled"}, found_pairs
    assert {trace_id for _, trace_id in found_pairs} <= sampled
    trace_id = found_pairs[0][1]
    assert trace_id is not None
    found = eventually(lambda: _trace_in_jaeger(running_stack.jaeger.url, trace_id), what="the SDK trace")
    assert [s["operationName"] for s in found["spans"]] == ["POST /sampled"]
    tracer_provider.shutdown()
    meter_provider.shutdown()
