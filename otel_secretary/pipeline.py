"""Builds the tracer, meter and logger providers: the one path behind the distro and ``configure()``.

What this module guarantees, and must keep guaranteeing:

* every exporter that any entry point or setting names is wrapped by the PII masker *inside* its
  batch processor, so no configuration can hand an exporter an unmasked span, log record or metric
  point (``MaskingSpanExporter`` & co. fail closed); spans and logs are masked in short slices that
  release the GIL, so requests do not wait behind a batch (``_internal/export_slices``);
* every exporter is rebuilt in a forked child before its first use there (gRPC channels and HTTP
  connection pools are not fork-safe), and the in-process ``/metrics`` endpoint is restarted;
* queues are bounded (``OTEL_SECRETARY_MAX_QUEUE_SIZE``): with the collector down the app keeps
  running and drops telemetry, it never grows.

Exporter lookup, samplers, id generators and resource detection stay upstream's
(``opentelemetry.sdk._configuration``) so every standard ``OTEL_*`` knob keeps working.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypedDict

from opentelemetry import metrics, trace
from opentelemetry._logs import set_logger_provider
from opentelemetry.sdk._configuration import (
    _get_exporter_names,
    _get_id_generator,
    _get_sampler,
    _import_exporters,
    _import_id_generator,
    _import_sampler,
)
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor, LogRecordExporter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricExporter, MetricReader, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter

from otel_secretary import pii
from otel_secretary._internal import delivery_reporting, export_slices
from otel_secretary._internal.fork_safe import (
    ForkSafeLogExporter,
    ForkSafeMetricExporter,
    ForkSafeSpanExporter,
    PrometheusEndpoint,
    guard_metric_collection_across_fork,
)
from otel_secretary._internal.self_monitoring import is_bad_input, report_internal_error, say_disabled
from otel_secretary.context import install_baggage_policy
from otel_secretary.sdk._logs import stdlib_bridge
from otel_secretary.sdk.hashed_resource import HashedResource
from otel_secretary.sdk.metrics import cardinality as metric_cardinality
from otel_secretary.sdk.metrics import lean_streams
from otel_secretary.sdk.metrics.host_metrics import register_host_metrics
from otel_secretary.sdk.trace.context_processor import RequestContextSpanProcessor
from otel_secretary.sdk.trace.heap_freeze import HeapFreezeOnFirstRequest
from otel_secretary.sdk.trace.limits_counter import AttributeLimitsCounter
from otel_secretary.sdk.trace.span_names import UnroutedSpanNameProcessor
from otel_secretary.settings import Settings
from otel_secretary.version import __version__

_logger = logging.getLogger(__name__)


@dataclass
class Pipeline:
    """What :func:`build` made; ``configure()`` hands it to the user as the handle."""

    settings: Settings
    tracer_provider: TracerProvider
    meter_provider: MeterProvider
    logger_provider: LoggerProvider
    masker: pii.Masker
    prometheus: PrometheusEndpoint | None = None
    on_shutdown: list[Callable[[], None]] = field(default_factory=list)

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        results = [
            self.tracer_provider.force_flush(timeout_millis),
            self.meter_provider.force_flush(timeout_millis),
            self.logger_provider.force_flush(timeout_millis),
        ]
        return all(results)

    def shutdown(self) -> None:
        for hook in self.on_shutdown:
            try:
                hook()
            except Exception as exc:  # never let a shutdown hook stop the others
                report_internal_error("pipeline.shutdown", exc)
        # In parallel: each provider's shutdown first marks its batch processors shut, then waits for
        # its exporter. Sequentially, a dead collector would hold the logs and metrics back behind the
        # traces, and a bounded caller (``shutdown_within`` at exit) would leave them unshut for the
        # SDK's own atexit hooks to wait on again, up to 30 s each.
        threads = [
            threading.Thread(
                target=_shutdown_quietly,
                args=(name, provider),
                name=f"otel-secretary-shutdown-{name}",
                daemon=True,
            )
            for name, provider in (
                ("traces", self.tracer_provider),
                ("metrics", self.meter_provider),
                ("logs", self.logger_provider),
            )
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if self.prometheus is not None:
            self.prometheus.stop()


def _shutdown_quietly(name: str, provider: TracerProvider | MeterProvider | LoggerProvider) -> None:
    try:
        provider.shutdown()
    except Exception as exc:
        report_internal_error(f"pipeline.shutdown.{name}", exc)


class _QueueLimits(TypedDict):
    max_queue_size: int
    max_export_batch_size: int


def _queue_limits(settings: Settings) -> _QueueLimits:
    """Queue and batch sizes of the span and log batch processors, one policy for both signals.

    The SDK refuses a batch larger than its queue: a small OTEL_SECRETARY_MAX_QUEUE_SIZE shrinks it.
    """
    return {
        "max_queue_size": settings.max_queue_size,
        "max_export_batch_size": min(512, settings.max_queue_size),
    }


def build_resource(settings: Settings, extra: dict[str, Any] | None = None) -> Resource:
    """Upstream detectors and OTEL_RESOURCE_ATTRIBUTES win over our defaults."""
    base: dict[str, Any] = {
        "deployment.environment.name": settings.environment,
        "telemetry.distro.name": "otel-secretary",
        "telemetry.distro.version": __version__,
        **({"service.version": settings.service_version} if settings.service_version else {}),
        **(extra or {}),
    }
    detected = Resource.create()
    # Resource.create() already applied OTEL_RESOURCE_ATTRIBUTES; ours only fill what is missing.
    return HashedResource(Resource(base).merge(detected))


def build(
    settings: Settings, *, auto_instrumentation_version: str | None = None, strict: bool = True
) -> Pipeline:
    """Create and register the global providers for ``settings``.

    Everything that reads a user's file (PII patterns, rule specs) runs before the first global
    provider is set, so a bad file raises (``strict``) with nothing half-configured."""
    masker = pii.build_masker(settings)
    extra = {"telemetry.auto.version": auto_instrumentation_version} if auto_instrumentation_version else None
    resource = build_resource(settings, extra)
    span_exporters, metric_exporters, log_exporters = _import_exporters(
        _get_exporter_names("traces"), _get_exporter_names("metrics"), _get_exporter_names("logs")
    )
    engine = _embedded_rules(settings, strict)

    install_baggage_policy()  # inbound baggage filtered, none to third parties (otel_secretary.context)
    span_processors: list[SpanProcessor] = [
        UnroutedSpanNameProcessor(),
        RequestContextSpanProcessor(),
        AttributeLimitsCounter(),
        pii.LiveNameLearning(masker),  # a request's log lines are masked with its spans' names
    ]
    if settings.gc_freeze:
        span_processors.append(HeapFreezeOnFirstRequest())
    if engine is not None:
        span_processors.append(engine.span_processor)
    tracer_provider = TracerProvider(
        resource=resource,
        sampler=_import_sampler(_get_sampler()),
        id_generator=_import_id_generator(_get_id_generator()),
    )
    for processor in span_processors:
        tracer_provider.add_span_processor(processor)
    for exporter_class in span_exporters.values():
        exporter = ForkSafeSpanExporter(_span_exporter_factory(exporter_class, settings))
        tracer_provider.add_span_processor(
            BatchSpanProcessor(
                delivery_reporting.for_spans(_sliced_masking_spans(exporter, masker), exporter_class),
                **_queue_limits(settings),
            )
        )

    readers, prometheus = _metric_readers(metric_exporters, settings, masker)
    if engine is not None:
        readers.append(engine.metric_reader)
    metric_cardinality.install()
    meter_provider = MeterProvider(resource=resource, metric_readers=readers)
    for reader in readers:
        if isinstance(reader, pii.MaskingPrometheusMetricReader):  # the text format has no exemplars
            lean_streams.install(meter_provider, reader)
    if engine is not None:
        engine.metric_reader.restrict_to_rule_metrics(meter_provider)
    guard_metric_collection_across_fork(meter_provider)
    if settings.system_metrics:
        register_host_metrics(meter_provider.get_meter("otel_secretary.host"))

    logger_provider = LoggerProvider(resource=resource)
    for log_exporter_class in log_exporters.values():
        log_exporter = ForkSafeLogExporter(_factory(log_exporter_class, settings))
        logger_provider.add_log_record_processor(
            BatchLogRecordProcessor(
                delivery_reporting.for_logs(_sliced_masking_logs(log_exporter, masker), log_exporter_class),
                **_queue_limits(settings),
            )
        )

    trace.set_tracer_provider(tracer_provider)
    metrics.set_meter_provider(meter_provider)
    set_logger_provider(logger_provider)
    pipeline = Pipeline(settings, tracer_provider, meter_provider, logger_provider, masker, prometheus)
    _bridge_stdlib_logging(logger_provider if log_exporters else None, masker)
    pipeline.on_shutdown.append(stdlib_bridge.stop_exporting)
    _install_error_tracking(settings, masker)
    _install_genai_defaults(pipeline)
    if engine is not None:
        engine.start()
        pipeline.on_shutdown.append(engine.shutdown)
    return pipeline


def _sliced_masking_spans(exporter: SpanExporter, masker: pii.Masker) -> SpanExporter:
    """sliced → masking → collector → exporter: the batch is masked in slices that release the GIL
    (no request waits behind the export thread), and the exporter still gets one call per batch."""
    collector = export_slices.BatchCollector(exporter)
    return export_slices.SlicedSpanExporter(pii.MaskingSpanExporter(collector, masker), collector)


def _sliced_masking_logs(exporter: LogRecordExporter, masker: pii.Masker) -> LogRecordExporter:
    collector = export_slices.LogBatchCollector(exporter)
    return export_slices.SlicedLogExporter(pii.MaskingLogRecordExporter(collector, masker), collector)


def _span_exporter_factory(exporter_class: type[Any], settings: Settings) -> Callable[[], Any]:
    """Upstream's OTLP/HTTP span exporter is built as ours, which differs only in how it encodes the
    request (a quarter of upstream's cost: ``sdk/trace/otlp_http_exporter``)."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    if exporter_class is OTLPSpanExporter:
        from otel_secretary.sdk.trace.otlp_http_exporter import OtlpHttpSpanExporter

        return OtlpHttpSpanExporter
    return _factory(exporter_class, settings)


def _factory(exporter_class: type[Any], settings: Settings) -> Callable[[], Any]:
    """Our own exporters take the settings; upstream ones are built as the SDK would build them."""
    if exporter_class.__module__.startswith("otel_secretary."):
        return lambda: exporter_class(settings=settings)
    return exporter_class


def _metric_readers(
    classes: dict[str, type[MetricExporter] | type[MetricReader]], settings: Settings, masker: pii.Masker
) -> tuple[list[MetricReader], PrometheusEndpoint | None]:
    readers: list[MetricReader] = []
    prometheus: PrometheusEndpoint | None = None
    for name, cls in classes.items():
        if name == "prometheus" or cls.__name__ == "PrometheusMetricReader":
            readers.append(pii.MaskingPrometheusMetricReader(masker))
            if settings.prometheus_port:
                prometheus = PrometheusEndpoint(settings.prometheus_host, settings.prometheus_port)
                prometheus.start()
        elif issubclass(cls, MetricReader):
            readers.append(cls())
        else:
            exporter = ForkSafeMetricExporter(_factory(cls, settings))
            readers.append(
                PeriodicExportingMetricReader(
                    delivery_reporting.for_metrics(pii.MaskingMetricExporter(exporter, masker), cls)
                )
            )
    return readers, prometheus


def _bridge_stdlib_logging(provider: LoggerProvider | None, masker: pii.Masker) -> None:
    """Stdlib logging → OTel logs (when a logs exporter is set), and every record masked before any of
    the app's handlers formats it; no handler is added to the app's loggers (see ``stdlib_bridge``)."""
    stdlib_bridge.install(provider, pii.MaskingLoggingFilter(masker))


def _install_error_tracking(settings: Settings, masker: pii.Masker) -> None:
    try:
        from otel_secretary import errors

        errors.install(settings, masker)
    except Exception as exc:
        report_internal_error("errors.install", exc)


def _install_genai_defaults(pipeline: Pipeline) -> None:
    """``@traced_ai_call`` would otherwise rebuild its settings from the environment, losing the
    keyword overrides given to ``configure()`` (e.g. ``capture_content``) and our masker."""
    try:
        from otel_secretary.genai import GenAITelemetry, set_default_telemetry

        set_default_telemetry(
            GenAITelemetry.from_settings(
                pipeline.settings,
                pipeline.tracer_provider,
                pipeline.meter_provider,
                pipeline.logger_provider,
                mask=pipeline.masker.mask_text,
            )
        )
    except Exception as exc:
        if is_bad_input(exc):
            say_disabled("GenAI cost estimates", exc)
        else:
            report_internal_error("genai.defaults", exc)


def _embedded_rules(settings: Settings, strict: bool) -> Any:
    if not (settings.embedded and settings.rules_enabled):
        return None
    try:
        from otel_secretary.rules.embedded import EmbeddedRules

        return EmbeddedRules.from_settings(settings)
    except Exception as exc:
        if is_bad_input(exc):
            if strict:
                raise
            say_disabled("in-process alert rules", exc)
        else:
            report_internal_error("rules.embedded", exc)
        return None
