"""The summed counter exports what the SDK's own Counter exports, with bounded series.

Each test records the same adds on a ``SummedCounter`` and on an SDK ``Counter`` of another name,
collects with a real reader (cumulative, then delta), and compares the points.
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest
from opentelemetry.sdk.metrics import Counter, MeterProvider, ObservableCounter
from opentelemetry.sdk.metrics.export import AggregationTemporality, InMemoryMetricReader

from otel_secretary import semconv
from otel_secretary.sdk.metrics.summed_counter import SummedCounter
from tests.support.processes import REPO

SUMMED = semconv.Instrument("test.summed", "USD", "counter", "summed in process")


def _points(reader: InMemoryMetricReader) -> dict[str, dict[frozenset[tuple[str, Any]], float]]:
    data = reader.get_metrics_data()
    found: dict[str, dict[frozenset[tuple[str, Any]], float]] = {}
    for resource_metrics in data.resource_metrics if data else ():
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                assert metric.data.is_monotonic, metric.name
                found[metric.name] = {
                    frozenset(point.attributes.items()): point.value for point in metric.data.data_points
                }
    return found


ADDS = [
    (0.25, {"gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o-mini", "tenant.id": "t1"}),
    (0.5, {"gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o-mini", "tenant.id": "t2"}),
    (0.125, {"gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o-mini", "tenant.id": "t1"}),
    (-1.0, {"gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o-mini", "tenant.id": "t1"}),
    (0.0, {"gen_ai.provider.name": "anthropic"}),
]


@pytest.mark.parametrize("temporality", [AggregationTemporality.CUMULATIVE, AggregationTemporality.DELTA])
def test_points_equal_the_sdk_counters(temporality: AggregationTemporality) -> None:
    reader = InMemoryMetricReader(
        preferred_temporality={Counter: temporality, ObservableCounter: temporality}
    )
    provider = MeterProvider(metric_readers=[reader])
    meter = provider.get_meter("test")
    summed = SummedCounter(meter, SUMMED)
    plain = meter.create_counter("test.plain", unit="USD")
    try:
        for amount, attributes in ADDS:
            summed.add(amount, attributes)
            plain.add(amount, attributes)
        first = _points(reader)
        assert first["test.summed"] == first["test.plain"]
        assert first["test.summed"][frozenset(ADDS[0][1].items())] == pytest.approx(0.375)
        summed.add(1.0, ADDS[1][1])
        plain.add(1.0, ADDS[1][1])
        second = _points(reader)
        if temporality is AggregationTemporality.DELTA:
            # An observable counter reports every series each time; an unchanged one as a delta of 0.
            unchanged = {k: v for k, v in second["test.summed"].items() if k not in second["test.plain"]}
            assert set(unchanged.values()) == {0.0} and len(unchanged) == 2
            second["test.summed"] = {k: v for k, v in second["test.summed"].items() if k not in unchanged}
        assert second["test.summed"] == second["test.plain"]
        expected = 1.0 if temporality is AggregationTemporality.DELTA else 1.5
        assert second["test.summed"][frozenset(ADDS[1][1].items())] == pytest.approx(expected)
    finally:
        provider.shutdown()


def test_series_beyond_the_limit_are_summed_into_the_overflow_series() -> None:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    summed = SummedCounter(provider.get_meter("test"), SUMMED, max_series=4)
    try:
        for tenant in range(10):
            summed.add(1.0, {"tenant.id": f"t{tenant}"})
        summed.add(2.0, {"tenant.id": "t0"})  # an existing series keeps counting
        points = _points(reader)["test.summed"]
    finally:
        provider.shutdown()
    assert len(points) == 4
    assert points[frozenset({("tenant.id", "t0")})] == 3.0
    assert points[frozenset({("otel.metric.overflow", True)})] == 7.0
    assert sum(points.values()) == 12.0  # nothing is lost


def test_only_counters_can_be_summed() -> None:
    provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
    with pytest.raises(TypeError, match="not a counter"):
        SummedCounter(
            provider.get_meter("test"), semconv.Instrument("test.h", "s", "histogram", "a histogram")
        )


@pytest.mark.skipif(sys.platform == "win32", reason="fork")
def test_a_forked_child_starts_from_zero() -> None:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    summed = SummedCounter(provider.get_meter("test"), SUMMED)
    summed.add(5.0, {"tenant.id": "parent"})
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its own add only
        summed.add(1.0, {"tenant.id": "child"})
        points = _points(reader).get("test.summed", {})
        os.write(write, repr(sorted((dict(k)["tenant.id"], v) for k, v in points.items())).encode())
        os._exit(0)
    os.close(write)
    child = os.read(read, 4096).decode()
    os.waitpid(pid, 0)
    assert child == "[('child', 1.0)]"
    assert _points(reader)["test.summed"] == {frozenset({("tenant.id", "parent")}): 5.0}
    provider.shutdown()


def test_one_shared_counter_per_provider_scope_and_name() -> None:
    first, second = MeterProvider(metric_readers=[InMemoryMetricReader()]), MeterProvider()
    try:
        counter = SummedCounter.shared(first, "scope.a", "1.0", SUMMED)
        assert SummedCounter.shared(first, "scope.a", "1.0", SUMMED) is counter
        assert SummedCounter.shared(first, "scope.b", "1.0", SUMMED) is not counter
        assert SummedCounter.shared(second, "scope.a", "1.0", SUMMED) is not counter
    finally:
        first.shutdown()
        second.shutdown()


def test_a_second_counter_of_the_same_name_would_go_unreported() -> None:
    # Why ``shared`` exists: the SDK keeps the first observable's callback and ignores the second's.
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    meter = provider.get_meter("test")
    first, second = SummedCounter(meter, SUMMED), SummedCounter(meter, SUMMED)
    first.add(1.0, {"tenant.id": "a"})
    second.add(2.0, {"tenant.id": "b"})
    try:
        assert _points(reader)["test.summed"] == {frozenset({("tenant.id", "a")}): 1.0}
    finally:
        provider.shutdown()


def test_the_global_provider_is_one_provider_before_and_after_it_is_set() -> None:
    # A counter asked for through the API's proxy (before the SDK provider is set, as the pipeline builds
    # its masker) and one asked for afterwards must be one: two would be two registrations of one name.
    # Run apart: the global meter provider can be set once per process.
    script = """
from opentelemetry import metrics
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from otel_secretary import semconv
from otel_secretary.sdk.metrics.summed_counter import SummedCounter
from tests.support.otel_harness import scoped_points

instrument = semconv.Instrument("test.summed", "1", "counter", "summed in process")
early = SummedCounter.shared(None, "scope", "1.0", instrument)
early.add(1, {"when": "before"})
reader = InMemoryMetricReader()
provider = MeterProvider(metric_readers=[reader])
metrics.set_meter_provider(provider)
SummedCounter.shared(None, "scope", "1.0", instrument).add(2, {"when": "after, by default"})
SummedCounter.shared(provider, "scope", "1.0", instrument).add(3, {"when": "after, explicit"})
print(sorted((point.attributes["when"], point.value) for _, point in scoped_points(reader, "test.summed")))
"""
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120, check=True
    )
    expected = "[('after, by default', 2), ('after, explicit', 3), ('before', 1)]"
    assert done.stdout.strip() == expected, done.stderr
