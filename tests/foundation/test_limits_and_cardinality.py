"""Size and cardinality limits in the SDK: unrouted span names, attribute limits, metric overflow."""

from __future__ import annotations

import json
from pathlib import Path

import flask
import pytest
from opentelemetry.instrumentation.flask import FlaskInstrumentor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from otel_secretary.distro import apply_env_defaults
from otel_secretary.sdk.metrics import cardinality
from otel_secretary.sdk.trace.span_names import UnroutedSpanNameProcessor
from tests.support.fault_runs import SPANS, run_driver
from tests.support.otel_harness import Harness


def test_an_unrouted_request_is_named_by_its_method_only(otel: Harness) -> None:
    provider = otel.tracer_provider
    provider.add_span_processor(UnroutedSpanNameProcessor())  # renames on start, before any export
    app = flask.Flask("limits-test")

    @app.get("/api/v1/items/<item_id>")
    def item(item_id: str) -> str:
        return item_id

    FlaskInstrumentor().instrument_app(app, tracer_provider=provider)
    try:
        client = app.test_client()
        assert client.get("/api/v1/items/42").status_code == 200
        for path in ("/wp-login.php", "/.env", "/admin/config.php?x=1"):
            assert client.get(path).status_code == 404
        assert client.post("/cgi-bin/luci").status_code == 404
    finally:
        FlaskInstrumentor().uninstrument_app(app)
    names = [span.name for span in otel.spans()]
    assert names == ["GET /api/v1/items/<item_id>", "GET", "GET", "GET", "POST"]
    scanned = otel.spans()[1]
    assert scanned.attributes is not None  # the raw path stays on the span, for whoever opens it
    assert "/wp-login.php" in (scanned.attributes.get("url.path"), scanned.attributes.get("http.target"))


def test_distro_sets_attribute_limits_and_the_user_wins() -> None:
    env: dict[str, str] = {}
    apply_env_defaults(env)
    assert env["OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT"] == "8192"
    assert env["OTEL_ATTRIBUTE_COUNT_LIMIT"] == "128"
    mine = {"OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT": "100000"}
    apply_env_defaults(mine)
    assert mine["OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT"] == "100000"


def test_the_distro_limit_cuts_a_ten_megabyte_attribute(monkeypatch: pytest.MonkeyPatch) -> None:
    env: dict[str, str] = {}
    apply_env_defaults(env)
    for key in ("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "OTEL_ATTRIBUTE_COUNT_LIMIT"):
        monkeypatch.setenv(key, env[key])
    exporter = InMemorySpanExporter()
    provider = TracerProvider(span_limits=SpanLimits())  # reads the variables, as the SDK does
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with provider.get_tracer("t").start_as_current_span("summarize") as span:
        for i in range(200):
            span.set_attribute(f"extra.{i}", i)  # past the count limit the oldest go
        span.set_attribute("gen_ai.prompt.synthetic", "x" * 10_000_000)
    (finished,) = exporter.get_finished_spans()
    assert finished.attributes is not None
    assert len(finished.attributes) == 128 and finished.dropped_attributes == 73
    assert len(str(finished.attributes["gen_ai.prompt.synthetic"])) == 8192


def test_metric_streams_overflow_into_one_marked_series() -> None:
    previous = cardinality.install(limit=10)
    try:
        reader = InMemoryMetricReader()
        provider = MeterProvider(metric_readers=[reader])
        counter = provider.get_meter("t").create_counter("bookings")
        for customer in range(50):
            counter.add(2, {"customer.id": f"cust-{customer:04d}"})
        counter.add(1, {"customer.id": "cust-0000"})  # an existing series keeps counting
        data = reader.get_metrics_data()
        assert data is not None
        (metric,) = [m for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics]
        points = list(metric.data.data_points)
        assert len(points) == 10
        overflow = [p for p in points if dict(p.attributes or {}) == {"otel.metric.overflow": True}]
        assert len(overflow) == 1 and overflow[0].value == 2 * (50 - 9)
        assert sum(p.value for p in points) == 101  # nothing lost, only folded
        first = [p for p in points if dict(p.attributes or {}) == {"customer.id": "cust-0000"}]
        assert first[0].value == 3
        provider.shutdown()
    finally:
        cardinality.install(limit=previous if previous != 10 else cardinality.DEFAULT_LIMIT)


def test_bad_cardinality_setting_is_named_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert cardinality.limit_from_env({cardinality.ENV: "lots"}) == cardinality.DEFAULT_LIMIT
    assert f"{cardinality.ENV}='lots'" in capsys.readouterr().err
    assert cardinality.limit_from_env({cardinality.ENV: "0"}) == 0


def test_a_cut_span_is_counted_and_its_neighbours_kept(tmp_path: Path) -> None:
    """Through configure() (distro defaults): the 10 MB value is cut to 8 KiB, the span and the 200
    others are written, and otel_secretary_telemetry_limited_total says what was cut."""
    done, _ = run_driver(tmp_path / "data", FAULT_BIG="1")
    metrics = json.loads(done.stdout.splitlines()[-1])["metrics"]

    def limited(kind: str) -> float:
        values = [
            float(line.rsplit(" ", 1)[1])
            for line in metrics.splitlines()
            if line.startswith("otel_secretary_telemetry_limited_total{") and f'limit="{kind}"' in line
        ]
        return max(values, default=0.0)

    assert limited("attribute_length") == 1 and limited("attribute_count") == 1
    spans = [
        span
        for line in (tmp_path / "data" / "traces.jsonl").read_text().splitlines()
        for rs in json.loads(line)["resourceSpans"]
        for ss in rs["scopeSpans"]
        for span in ss["spans"]
    ]
    assert len(spans) == SPANS + 1
    (huge,) = [s for s in spans if s["name"] == "huge"]
    document = next(a["value"]["stringValue"] for a in huge["attributes"] if a["key"] == "synthetic.document")
    assert len(document) == 8192 and huge["droppedAttributesCount"] == 73
