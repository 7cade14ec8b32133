"""The telemetry registry: instruments are created as declared, and what reads them agrees by construction."""

from __future__ import annotations

import pytest
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import HistogramDataPoint

from otel_secretary import semconv
from otel_secretary.dashboards import _queries as q
from otel_secretary.errors._record import ErrorRecorder
from otel_secretary.instrumentation._common import Instruments
from otel_secretary.rules import promql
from tests.support.otel_harness import Harness


def test_names_are_unique() -> None:
    names = [instrument.name for instrument in semconv.INSTRUMENTS]
    assert len(names) == len(set(names))
    assert set(semconv.BY_NAME) == set(names)


def test_created_instruments_carry_the_declared_unit_description_and_buckets(otel: Harness) -> None:
    meter = otel.meter_provider.get_meter("test")
    semconv.counter(meter, semconv.GENAI_COST).add(0.5)
    semconv.histogram(meter, semconv.EXTERNAL_DURATION).record(0.2)
    semconv.observable_gauge(meter, semconv.CELERY_QUEUE_LENGTH, [lambda _options: [Observation(3)]])
    exported = otel.metrics()
    for instrument in (semconv.GENAI_COST, semconv.EXTERNAL_DURATION, semconv.CELERY_QUEUE_LENGTH):
        metric = exported[instrument.name]
        assert (metric.unit, metric.description) == (instrument.unit, instrument.description)
    (point,) = exported[semconv.EXTERNAL_DURATION.name].data.data_points
    assert isinstance(point, HistogramDataPoint)
    assert tuple(point.explicit_bounds) == semconv.CALL_DURATION_BUCKETS


def test_a_helper_refuses_an_instrument_of_another_kind() -> None:
    meter = MeterProvider().get_meter("test")
    with pytest.raises(TypeError, match=r"app\.errors is declared as a counter, not a histogram"):
        semconv.histogram(meter, semconv.APP_ERRORS)
    with pytest.raises(TypeError, match="not a gauge"):
        semconv.observable_gauge(meter, semconv.APP_ERRORS, [_no_observations])


def _no_observations(_options: CallbackOptions) -> list[Observation]:
    return []


def test_the_recording_code_exports_what_the_registry_declares(otel: Harness) -> None:
    """Real instrumentation objects, not the helpers: what a rename in semconv changes."""
    provider = otel.meter_provider
    Instruments(provider).record_call("stripe", "POST /v1/charges", 0.1, "500")
    ErrorRecorder(meter_provider=provider).record(None, ValueError("synthetic"))
    exported = otel.metrics()
    for instrument in (semconv.EXTERNAL_DURATION, semconv.EXTERNAL_ERRORS, semconv.APP_ERRORS):
        assert exported[instrument.name].unit == instrument.unit


def test_dashboards_and_promql_read_the_registry() -> None:
    assert q.EXTERNAL_DURATION.names == ("otel_secretary_external_duration_seconds",)
    assert q.DB_CONNECTIONS.metric_type == "gauge"  # an up-down counter is a gauge in Prometheus
    assert q.RATELIMIT_UTILIZATION.names == (
        "otel_secretary_ratelimit_utilization",
        "otel_secretary_ratelimit_utilization_ratio",
    )
    assert promql.SDK_BUCKETS["http.server.request.duration"] == semconv.HTTP_DURATION_BUCKETS
    assert promql.SDK_BUCKETS["otel_secretary.external.duration"] == semconv.CALL_DURATION_BUCKETS
