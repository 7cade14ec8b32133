"""Every metric and attribute name otel-secretary emits or reads, declared once.

Why a registry: a metric is created in one module, queried by the alert rules (PromQL), drawn on the
dashboards and documented. When each of those typed the name and unit again, renaming an instrument
meant finding every copy. Here each instrument is one :class:`Instrument` value (name, unit, kind,
description, bucket advice); the code that records creates it with :func:`counter`, :func:`histogram`
or :func:`observable_gauge`, and the dashboards and PromQL builder derive Prometheus names from the
same value. So a rename is one edit, and nothing can drift.

Two groups: instruments we create, and instruments other libraries create (Flask, util-genai,
system-metrics, SQLAlchemy, the demo app) that our rules and dashboards read. Names that are
OpenTelemetry semantic conventions come from ``opentelemetry.semconv`` rather than being retyped.

This module imports nothing from otel_secretary, so any package may import it without a cycle.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Final, Literal

from opentelemetry.metrics import (
    CallbackOptions,
    Counter,
    Histogram,
    Meter,
    ObservableGauge,
    Observation,
)
from opentelemetry.semconv._incubating.metrics import gen_ai_metrics
from opentelemetry.semconv.metrics import http_metrics

InstrumentKind = Literal["counter", "histogram", "gauge", "up_down_counter"]


@dataclass(frozen=True)
class Instrument:
    """One OpenTelemetry instrument: what the SDK is told when it is created."""

    name: str
    unit: str
    kind: InstrumentKind
    description: str
    #: Explicit bucket boundaries advised to the SDK (histograms only); None means the SDK default.
    buckets: tuple[float, ...] | None = None

    @property
    def prometheus_type(self) -> Literal["counter", "histogram", "gauge"]:
        """How Prometheus stores it: up-down counters and gauges are both gauges there."""
        return "gauge" if self.kind == "up_down_counter" else self.kind


def counter(meter: Meter, instrument: Instrument) -> Counter:
    """Create ``instrument`` (a counter) on ``meter``."""
    _expect(instrument, "counter")
    return meter.create_counter(instrument.name, unit=instrument.unit, description=instrument.description)


def histogram(meter: Meter, instrument: Instrument) -> Histogram:
    """Create ``instrument`` (a histogram) on ``meter``, passing its bucket advice."""
    _expect(instrument, "histogram")
    return meter.create_histogram(
        instrument.name,
        unit=instrument.unit,
        description=instrument.description,
        explicit_bucket_boundaries_advisory=list(instrument.buckets) if instrument.buckets else None,
    )


def observable_gauge(
    meter: Meter,
    instrument: Instrument,
    callbacks: Sequence[Callable[[CallbackOptions], Iterable[Observation]]],
) -> ObservableGauge:
    """Create ``instrument`` (an asynchronous gauge) on ``meter``, read through ``callbacks``."""
    _expect(instrument, "gauge")
    return meter.create_observable_gauge(
        instrument.name, callbacks=list(callbacks), unit=instrument.unit, description=instrument.description
    )


def _expect(instrument: Instrument, kind: InstrumentKind) -> None:
    if instrument.kind != kind:
        raise TypeError(f"{instrument.name} is declared as a {instrument.kind}, not a {kind}")


# -- bucket advice (seconds) ------------------------------------------------------------------------

#: HTTP semconv advice for ``http.{server,client}.request.duration``.
HTTP_DURATION_BUCKETS: Final = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.075,
    0.1,
    0.25,
    0.5,
    0.75,
    1.0,
    2.5,
    5.0,
    7.5,
    10.0,
)
#: A logical outbound call includes retries and backoff, so the tail reaches a minute.
CALL_DURATION_BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
#: GenAI semconv advice for ``gen_ai.client.operation.duration`` (what util-genai passes).
GENAI_DURATION_BUCKETS: Final = (
    0.01,
    0.02,
    0.04,
    0.08,
    0.16,
    0.32,
    0.64,
    1.28,
    2.56,
    5.12,
    10.24,
    20.48,
    40.96,
    81.92,
)

#: The span-metrics connector's duration buckets in our Collector (milliseconds): written into
#: ``generated/otelcol-spanmetrics.yaml`` by ``otel-secretary generate`` and merged over every collector
#: config that computes span metrics; latency thresholds of span rules must be one of these boundaries
#: (or of the connector's own defaults, for a Collector configured elsewhere).
SPAN_METRICS_BUCKETS_MS: Final = (5, 10, 25, 50, 100, 250, 500, 1000, 2000, 5000, 10000, 30000)

# -- attribute keys we define -----------------------------------------------------------------------

EXTERNAL_SYSTEM: Final = "otel_secretary.external.system"
EXTERNAL_OPERATION: Final = "otel_secretary.external.operation"
ERROR_CATEGORY: Final = "app.error.category"
ERROR_SEVERITY: Final = "app.error.severity"
ERROR_FINGERPRINT: Final = "app.error.fingerprint"
ERROR_SYSTEM: Final = "app.error.system"
#: The exception class name, which HTTP and GenAI instrumentations do not overwrite with a status code.
ERROR_APP_TYPE: Final = "app.error.type"
# Ours, not a convention: cost has no standard name yet (semantic-conventions-genai #287).
GENAI_COST_USD: Final = "app.genai.cost_usd"
GENAI_FEEDBACK_SENTIMENT: Final = "app.genai.feedback.sentiment"
TENANT_ID: Final = "app.tenant.id"
RATELIMIT_RESOURCE: Final = "otel_secretary.ratelimit.resource"
STRIPE_EVENT_TYPE: Final = "stripe.event.type"
CALENDAR_ID: Final = "otel_secretary.calendar.id"
INTERNAL_WHERE: Final = "otel_secretary.where"

# -- instruments we create --------------------------------------------------------------------------

EXTERNAL_DURATION: Final = Instrument(
    "otel_secretary.external.duration",
    "s",
    "histogram",
    "Duration of logical outbound calls (retries and backoff included).",
    CALL_DURATION_BUCKETS,
)
EXTERNAL_ERRORS: Final = Instrument(
    "otel_secretary.external.errors",
    "{error}",
    "counter",
    "Failed logical outbound calls, by system, operation and error.type.",
)
HTTP_CLIENT_DURATION: Final = Instrument(
    http_metrics.HTTP_CLIENT_REQUEST_DURATION,
    "s",
    "histogram",
    "Duration of each physical HTTP attempt.",
    HTTP_DURATION_BUCKETS,
)
APP_ERRORS: Final = Instrument(
    "app.errors",
    "{error}",
    "counter",
    "Exceptions recorded by otel-secretary, by category, severity and error type.",
)
GENAI_COST: Final = Instrument(
    "app.genai.cost", "USD", "counter", "Estimated cost of GenAI calls by provider, model and tenant."
)
GENAI_UNPRICED: Final = Instrument(
    "app.genai.cost.unpriced",
    "{call}",
    "counter",
    "GenAI calls whose model has no known price (missing from the cost total).",
)
GENAI_FEEDBACK: Final = Instrument(
    "app.genai.feedback",
    "{feedback}",
    "counter",
    "User feedback on model answers by model and sentiment (negative share alertable).",
)
RATELIMIT_REMAINING: Final = Instrument(
    "otel_secretary.ratelimit.remaining",
    "1",
    "gauge",
    "Requests or tokens left in the provider's rate-limit window.",
)
RATELIMIT_LIMIT: Final = Instrument(
    "otel_secretary.ratelimit.limit", "1", "gauge", "The provider's rate limit for requests or tokens."
)
RATELIMIT_UTILIZATION: Final = Instrument(
    "otel_secretary.ratelimit.utilization",
    "1",
    "gauge",
    "Share of the rate-limit window used (0..1); near 1 means 429s are imminent.",
)
STRIPE_WEBHOOK_EVENTS: Final = Instrument(
    "otel_secretary.stripe.webhook.events",
    "{event}",
    "counter",
    "Stripe webhook deliveries by event type and outcome (processed, invalid_signature).",
)
CELERY_QUEUE_LENGTH: Final = Instrument(
    "messaging.celery.queue.length", "{message}", "gauge", "Messages waiting in the Celery broker queue."
)
PII_REDACTIONS: Final = Instrument(
    "otel_secretary.pii.redactions", "{redaction}", "counter", "Values masked, by kind and signal"
)
PII_FAILURES: Final = Instrument(
    "otel_secretary.pii.failures",
    "{value}",
    "counter",
    "Values dropped because masking raised (fail-closed), by signal",
)
INTERNAL_ERRORS: Final = Instrument(
    "otel_secretary.internal.errors",
    "{error}",
    "counter",
    "Exceptions raised inside otel-secretary and swallowed to protect the host app.",
)
TELEMETRY_DROPPED: Final = Instrument(
    "otel_secretary.telemetry.dropped",
    "{item}",
    "counter",
    "Spans, log records, metric points and notifications that could not be delivered, by "
    "signal and reason (export_failed, disk_full, unwritable, queue_full, notification_failed...).",
)
TELEMETRY_LIMITED: Final = Instrument(
    "otel_secretary.telemetry.limited",
    "{span}",
    "counter",
    "Spans that lost attributes, events or links, or had a value cut, to the attribute limits.",
)
# The Collector hostmetrics receiver's names, so one rule reads either source (sdk/metrics/host_metrics.py).
FILESYSTEM_UTILIZATION: Final = Instrument(
    "system.filesystem.utilization", "1", "gauge", "Share of each local file system's space in use."
)
LOAD_AVERAGE: Final = {
    window: Instrument(
        f"system.cpu.load_average.{window}", "{thread}", "gauge", f"System load average over {window}."
    )
    for window in ("1m", "5m", "15m")
}

# -- instruments other libraries create, which our rules and dashboards read -----------------------

HTTP_SERVER_DURATION: Final = Instrument(
    http_metrics.HTTP_SERVER_REQUEST_DURATION,
    "s",
    "histogram",
    "Duration of HTTP server requests (Flask instrumentation).",
    HTTP_DURATION_BUCKETS,
)
GENAI_OPERATION_DURATION: Final = Instrument(
    gen_ai_metrics.GEN_AI_CLIENT_OPERATION_DURATION,
    "s",
    "histogram",
    "GenAI operation duration (util-genai).",
    GENAI_DURATION_BUCKETS,
)
GENAI_TOKEN_USAGE: Final = Instrument(
    gen_ai_metrics.GEN_AI_CLIENT_TOKEN_USAGE,
    "{token}",
    "histogram",
    "Tokens used per GenAI call (util-genai).",
)
CPU_UTILIZATION: Final = Instrument(
    "system.cpu.utilization", "1", "gauge", "CPU in use (system-metrics instrumentation or hostmetrics)."
)
MEMORY_UTILIZATION: Final = Instrument(
    "system.memory.utilization",
    "1",
    "gauge",
    "Memory in use (system-metrics instrumentation or hostmetrics).",
)
DB_CONNECTIONS_USAGE: Final = Instrument(
    "db.client.connections.usage",
    "{connection}",
    "up_down_counter",
    "SQLAlchemy pool connections by state (SQLAlchemy instrumentation).",
)
# The demo app's business metrics (examples/ai_secretary), drawn on the Business dashboard.
DEMO_MESSAGES_PROCESSED: Final = Instrument(
    "ai_secretary.messages.processed", "{message}", "counter", "Inbound messages processed, by outcome."
)
DEMO_SUBSCRIPTIONS_STARTED: Final = Instrument(
    "ai_secretary.subscriptions.started", "{subscription}", "counter", "Stripe subscriptions started."
)

#: Every instrument above, for lookups by name (bucket layouts, documentation).
INSTRUMENTS: Final[tuple[Instrument, ...]] = (
    EXTERNAL_DURATION,
    EXTERNAL_ERRORS,
    HTTP_CLIENT_DURATION,
    APP_ERRORS,
    GENAI_COST,
    GENAI_UNPRICED,
    GENAI_FEEDBACK,
    RATELIMIT_REMAINING,
    RATELIMIT_LIMIT,
    RATELIMIT_UTILIZATION,
    STRIPE_WEBHOOK_EVENTS,
    CELERY_QUEUE_LENGTH,
    PII_REDACTIONS,
    PII_FAILURES,
    INTERNAL_ERRORS,
    TELEMETRY_DROPPED,
    TELEMETRY_LIMITED,
    FILESYSTEM_UTILIZATION,
    *LOAD_AVERAGE.values(),
    HTTP_SERVER_DURATION,
    GENAI_OPERATION_DURATION,
    GENAI_TOKEN_USAGE,
    CPU_UTILIZATION,
    MEMORY_UTILIZATION,
    DB_CONNECTIONS_USAGE,
    DEMO_MESSAGES_PROCESSED,
    DEMO_SUBSCRIPTIONS_STARTED,
)
BY_NAME: Final = {instrument.name: instrument for instrument in INSTRUMENTS}
