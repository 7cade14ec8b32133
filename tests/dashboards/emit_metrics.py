"""A stand-in app process for test_real_metrics: real instruments, exported the two ways we deploy.

``python -m tests.dashboards.emit_metrics prometheus <port>`` serves the SDK's own /metrics on
127.0.0.1:<port> (the embedded default); ``... otlp <http endpoint>`` pushes metrics and spans over OTLP
to a Collector (the stack). It drives each instrumented code path (Flask routes, the error tracker,
outbound-call and rate-limit instruments, GenAI calls with a tenant, PII masking in the span exporter,
system metrics) plus one span per alert rule's example span name, prints "ready" and keeps emitting
until terminated. Synthetic data only.
"""

from __future__ import annotations

import contextlib
import sys
import time
from typing import Any

from flask import Flask
from opentelemetry import baggage, context, metrics
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.instrumentation.flask import FlaskInstrumentor
from opentelemetry.instrumentation.system_metrics import SystemMetricsInstrumentor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricReader, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode
from prometheus_client import start_http_server
from sqlalchemy.exc import TimeoutError as PoolTimeout

from otel_secretary._internal.self_monitoring import report_internal_error
from otel_secretary.errors._record import ErrorRecorder
from otel_secretary.genai import GenAITelemetry, traced_ai_call
from otel_secretary.instrumentation._common import Instruments
from otel_secretary.instrumentation.openai import RateLimitGauges
from otel_secretary.pii import Masker, MaskingSpanExporter
from otel_secretary.rules.spec import default_rules_dir, load_dir
from otel_secretary.sdk.metrics import cardinality as metric_cardinality

SERVICE = "ai-secretary"


_KINDS = {
    "server": SpanKind.SERVER,
    "client": SpanKind.CLIENT,
    "consumer": SpanKind.CONSUMER,
    "producer": SpanKind.PRODUCER,
    "internal": SpanKind.INTERNAL,
}


def main(mode: str, target: str) -> None:
    resource = Resource.create({"service.name": SERVICE, "service.instance.id": "emitter-1"})
    reader: MetricReader
    spans: SpanExporter
    if mode == "otlp":
        reader = PeriodicExportingMetricReader(
            OTLPMetricExporter(f"{target}/v1/metrics"), export_interval_millis=1000
        )
        spans = OTLPSpanExporter(f"{target}/v1/traces")
    else:
        reader = PrometheusMetricReader()
        spans = InMemorySpanExporter()
    meter_provider = MeterProvider(resource=resource, metric_readers=[reader])
    # One metric over the distro's cardinality limit, as an unbounded attribute makes it: the overflow
    # series the "over a cardinality limit" panel counts and every other query leaves out. The limit is
    # above what the other instruments reach on a many-CPU machine.
    metric_cardinality.install(1000)
    probe = meter_provider.get_meter("emitter").create_counter("emitter.cardinality_probe")
    for customer in range(1001):
        probe.add(1, {"customer.id": f"c{customer}"})
    tracer_provider = TracerProvider(resource=resource)
    masker = Masker(meter_provider=meter_provider)
    # Spans pass through the masking exporter as in the distro's pipeline, which counts redactions.
    processor = BatchSpanProcessor if mode == "otlp" else SimpleSpanProcessor
    tracer_provider.add_span_processor(processor(MaskingSpanExporter(spans, masker)))
    tracer = tracer_provider.get_tracer("emitter")
    # A separate process, so the global provider is ours: self-monitoring counts through it.
    metrics.set_meter_provider(meter_provider)

    app = Flask("emitter")

    @app.get("/api/v1/messages")
    def messages() -> str:
        return "[]"

    @app.post("/api/v1/emails/summarize")
    def summarize() -> Any:
        return {"error": "upstream"}, 503

    FlaskInstrumentor().instrument_app(app, meter_provider=meter_provider, tracer_provider=tracer_provider)
    SystemMetricsInstrumentor(
        config={
            "system.cpu.utilization": ["idle", "user", "system", "irq"],
            "system.memory.utilization": ["used", "free", "cached"],
        }
    ).instrument(meter_provider=meter_provider)
    recorder = ErrorRecorder(meter_provider=meter_provider)
    external = Instruments(meter_provider)
    limits = RateLimitGauges(meter_provider)
    genai = GenAITelemetry(tracer_provider, meter_provider)

    @traced_ai_call(telemetry=genai)
    def answer(model: str, fail: bool = False) -> dict[str, Any]:
        if fail:
            raise TimeoutError("synthetic model timeout")
        return {"model": model, "usage": {"prompt_tokens": 1200, "completion_tokens": 300}}

    # One failing span per rule selector, named as the rule spec's own example (spanmetrics input).
    rule_spans = [
        (spec.selector.sample_span_name, _KINDS[spec.selector.span_kind or "internal"])
        for spec in load_dir(default_rules_dir())
        if spec.kind != "threshold"
    ]
    if mode == "prometheus":
        start_http_server(int(target), addr="127.0.0.1")
    print("ready", flush=True)
    client = app.test_client()
    while True:
        client.get("/api/v1/messages")
        client.post("/api/v1/emails/summarize")
        recorder.record(None, PoolTimeout("QueuePool limit reached (synthetic)"))
        recorder.record(None, ConnectionError("card declined upstream (synthetic)"), system="stripe")
        external.record_call("stripe", "POST /v1/customers", 0.12, None)
        external.record_call("calendar", "calendar.events.insert", 0.3, "HttpError")
        limits.record(
            "openai",
            "api.openai.com",
            {
                "x-ratelimit-limit-requests": "500",
                "x-ratelimit-remaining-requests": "430",
                "x-ratelimit-limit-tokens": "200000",
                "x-ratelimit-remaining-tokens": "150000",
            },
        )
        with tracer.start_as_current_span("notify", attributes={"note": "write to jane.doe@example.com"}):
            pass
        for name, kind in rule_spans:
            for status in (StatusCode.OK, StatusCode.ERROR):
                with tracer.start_as_current_span(name, kind=kind) as span:
                    span.set_status(Status(status))
        report_internal_error("dashboards.emitter", ValueError("synthetic"))
        token = context.attach(baggage.set_baggage("app.tenant.id", "tenant-a"))
        try:
            answer(model="gpt-4o-mini")
            answer(model="model-nobody-prices")
            with contextlib.suppress(TimeoutError):
                answer(model="gpt-4o-mini", fail=True)
        finally:
            context.detach(token)
        time.sleep(0.5)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
