"""Metric names and PromQL building blocks for the dashboards.

Every Prometheus name comes from :func:`otel_secretary.rules.promql.prometheus_name` applied to an
instrument declared in :mod:`otel_secretary.semconv`, the same value the recording code creates the
instrument from, so a rename there changes the instrument, the dashboards and the alert rules together.
Only strings are built here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as gen_ai
from opentelemetry.semconv._incubating.attributes import messaging_attributes as messaging
from opentelemetry.semconv.attributes import error_attributes, http_attributes, server_attributes

from otel_secretary import semconv
from otel_secretary.dashboards._grafana import RATE
from otel_secretary.rules.promql import (
    CALLS,
    DURATION_MS,
    DURATION_S,
    ERROR_STATUS,
    NOT_OVERFLOW,
    SPAN_KIND_VALUES,
    label_name,
    matchers,
    prometheus_name,
)

FLAVOURS = ("sdk", "collector")


@dataclass(frozen=True)
class Metric:
    """An OTel instrument as Prometheus stores it, whichever exporter translated it."""

    otel_name: str
    unit: str
    metric_type: str  # counter | histogram | gauge (up-down counters are gauges in Prometheus)

    @property
    def names(self) -> tuple[str, ...]:
        """Distinct Prometheus names: the Collector adds ``_ratio`` to unit-1 gauges, the SDK does not."""
        found = [prometheus_name(self.otel_name, self.unit, self.metric_type, flavour=f) for f in FLAVOURS]
        return tuple(dict.fromkeys(found))

    def series(self, pairs: Sequence[tuple[str, str, str]] = (), suffix: str = "") -> str:
        """Without the overflow series, as the rules do (promql.NOT_OVERFLOW): a panel shows what its
        alert judges, and no phantom empty-label line."""
        pairs = [*pairs, NOT_OVERFLOW]
        names = [name + suffix for name in self.names]
        if len(names) == 1:
            return names[0] + matchers(pairs)
        return matchers([("__name__", "=~", "|".join(names)), *pairs])

    @classmethod
    def of(cls, instrument: semconv.Instrument) -> Metric:
        return cls(instrument.name, instrument.unit, instrument.prometheus_type)


# Instruments, by area (declared in otel_secretary.semconv).
HTTP_SERVER = Metric.of(semconv.HTTP_SERVER_DURATION)
HTTP_CLIENT = Metric.of(semconv.HTTP_CLIENT_DURATION)
GENAI_DURATION = Metric.of(semconv.GENAI_OPERATION_DURATION)
GENAI_TOKENS = Metric.of(semconv.GENAI_TOKEN_USAGE)
GENAI_COST = Metric.of(semconv.GENAI_COST)
GENAI_UNPRICED = Metric.of(semconv.GENAI_UNPRICED)
RATELIMIT_UTILIZATION = Metric.of(semconv.RATELIMIT_UTILIZATION)
RATELIMIT_REMAINING = Metric.of(semconv.RATELIMIT_REMAINING)
EXTERNAL_DURATION = Metric.of(semconv.EXTERNAL_DURATION)
EXTERNAL_ERRORS = Metric.of(semconv.EXTERNAL_ERRORS)
STRIPE_WEBHOOKS = Metric.of(semconv.STRIPE_WEBHOOK_EVENTS)
APP_ERRORS = Metric.of(semconv.APP_ERRORS)
CELERY_QUEUE = Metric.of(semconv.CELERY_QUEUE_LENGTH)
MESSAGES_PROCESSED = Metric.of(semconv.DEMO_MESSAGES_PROCESSED)
SUBSCRIPTIONS = Metric.of(semconv.DEMO_SUBSCRIPTIONS_STARTED)
PII_REDACTIONS = Metric.of(semconv.PII_REDACTIONS)
PII_FAILURES = Metric.of(semconv.PII_FAILURES)
INTERNAL_ERRORS = Metric.of(semconv.INTERNAL_ERRORS)
# Host metrics: opentelemetry-instrumentation-system-metrics (CPU, memory) or the Collector's
# hostmetrics receiver (also filesystem and load, which the Python package does not report).
CPU = Metric.of(semconv.CPU_UTILIZATION)
MEMORY = Metric.of(semconv.MEMORY_UTILIZATION)
FILESYSTEM = Metric.of(semconv.FILESYSTEM_UTILIZATION)
LOAD = {window: Metric.of(instrument) for window, instrument in semconv.LOAD_AVERAGE.items()}
DB_CONNECTIONS = Metric.of(semconv.DB_CONNECTIONS_USAGE)

# Labels, from the attribute names.
ROUTE = label_name(http_attributes.HTTP_ROUTE)
METHOD = label_name(http_attributes.HTTP_REQUEST_METHOD)
STATUS = label_name(http_attributes.HTTP_RESPONSE_STATUS_CODE)
ERROR_TYPE = label_name(error_attributes.ERROR_TYPE)
SERVER_ADDRESS = label_name(server_attributes.SERVER_ADDRESS)
MODEL = label_name(gen_ai.GEN_AI_REQUEST_MODEL)
OPERATION = label_name(gen_ai.GEN_AI_OPERATION_NAME)
TOKEN_TYPE = label_name(gen_ai.GEN_AI_TOKEN_TYPE)
PROVIDER = label_name(gen_ai.GEN_AI_PROVIDER_NAME)
TENANT = label_name(semconv.TENANT_ID)
QUEUE = label_name(messaging.MESSAGING_DESTINATION_NAME)
CATEGORY = label_name(semconv.ERROR_CATEGORY)
SEVERITY = label_name(semconv.ERROR_SEVERITY)
ERROR_SYSTEM = label_name(semconv.ERROR_SYSTEM)
EXTERNAL_SYSTEM = label_name(semconv.EXTERNAL_SYSTEM)
EXTERNAL_OPERATION = label_name(semconv.EXTERNAL_OPERATION)
RATELIMIT_RESOURCE = label_name(semconv.RATELIMIT_RESOURCE)
WEBHOOK_TYPE = label_name(semconv.STRIPE_EVENT_TYPE)
INTERNAL_WHERE = label_name(semconv.INTERNAL_WHERE)

SERVICE_VAR = "$service"
TENANT_VAR = "$tenant"
SPAN_SERVICE = ("service_name", "=~", SERVICE_VAR)
# The Collector's Prometheus exporter maps service.name to ``job`` and leaves it off target_info; the
# SDK's in-process exporter puts it on target_info (and the scrape job names the target). Filtering with
# ``and on (job, instance)`` keeps the series' own labels, so neither deployment double counts.
_SERVICE_TARGETS = (
    f"target_info{matchers([('service_name', '=~', SERVICE_VAR)])}"
    f" or target_info{matchers([('job', '=~', SERVICE_VAR)])}"
)


def of_service(inner: str) -> str:
    """Restrict an SDK-metric vector to the ``$service`` selection."""
    return f"({inner}) and on (job, instance) ({_SERVICE_TARGETS})"


def rate(series: str, window: str = RATE) -> str:
    return f"rate({series}[{window}])"


def sum_by(by: Sequence[str], inner: str, op: str = "sum") -> str:
    return f"{op} by ({', '.join(by)}) ({inner})" if by else f"{op}({inner})"


def ratio(bad: str, total: str) -> str:
    """bad ÷ total, reading 0 (not "no data") for groups that have traffic but no bad events yet."""
    return f"(({bad}) or (({total}) * 0)) / ({total})"


def sdk_rate(metric: Metric, by: Sequence[str], pairs: Sequence[tuple[str, str, str]] = ()) -> str:
    """Per-second events of an SDK counter (or histogram ``_count``) for the selected services."""
    suffix = "_count" if metric.metric_type == "histogram" else ""
    return sum_by(by, of_service(rate(metric.series(pairs, suffix))))


def sdk_quantile(
    quantile: float, metric: Metric, by: Sequence[str], pairs: Sequence[tuple[str, str, str]] = ()
) -> str:
    inner = of_service(rate(metric.series(pairs, "_bucket")))
    return f"histogram_quantile({quantile:g}, {sum_by(('le', *by), inner)})"


def span_pairs(kind: str | None = None, *extra: tuple[str, str, str]) -> list[tuple[str, str, str]]:
    pairs = [SPAN_SERVICE]
    if kind is not None:
        pairs.append(("span_kind", "=", SPAN_KIND_VALUES[kind]))
    return [*pairs, *extra, NOT_OVERFLOW]


def span_calls(by: Sequence[str], pairs: Sequence[tuple[str, str, str]], *, errors: bool = False) -> str:
    selected = [*pairs, ("status_code", "=", ERROR_STATUS)] if errors else list(pairs)
    # collector_instance_id (one series per Collector replica) is summed away by naming ``by``.
    return sum_by(by, rate(CALLS + matchers(selected)))


def span_quantile(quantile: float, by: Sequence[str], pairs: Sequence[tuple[str, str, str]]) -> str:
    """In seconds whether the spanmetrics histogram unit is ``s`` (our Collector) or ``ms`` (its default)."""
    seconds = sum_by(("le", *by), rate(DURATION_S + "_bucket" + matchers(pairs)))
    millis = sum_by(("le", *by), rate(DURATION_MS + "_bucket" + matchers(pairs)))
    return f"histogram_quantile({quantile:g}, {seconds}) or histogram_quantile({quantile:g}, {millis}) / 1000"


def overflow_series() -> str:
    """Which metrics, in which job, hit a cardinality limit (the series every other query leaves out)."""
    return f'count by (job, __name__) ({{{NOT_OVERFLOW[0]}="true"}})'


def legend(*labels: str, suffix: str = "") -> str:
    text = " ".join("{{" + label + "}}" for label in labels)
    return f"{text} {suffix}".strip()
