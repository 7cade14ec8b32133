"""Lean streams aggregate exactly what the SDK's do, without exemplars and without rehashing repeats."""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry.metrics import Observation
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics._internal import _view_instrument_match as vim
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider

from otel_secretary.sdk.metrics import cardinality, lean_streams


def _points(reader: InMemoryMetricReader) -> dict[tuple[str, tuple[tuple[str, Any], ...]], Any]:
    """Each point by metric and attributes (with the attribute values' types: 1 and True differ)."""
    out: dict[tuple[str, tuple[tuple[str, Any], ...]], Any] = {}
    data = reader.get_metrics_data()
    assert data is not None
    for resource_metrics in data.resource_metrics:
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                for point in metric.data.data_points:
                    attributes = tuple(
                        sorted((k, (type(v).__name__, v)) for k, v in (point.attributes or {}).items())
                    )
                    value = getattr(point, "value", None)
                    if value is None:  # a histogram point
                        value = (point.count, point.sum, tuple(point.bucket_counts))
                    out[(metric.name, attributes)] = (value, len(point.exemplars))
    return out


def _record(provider: MeterProvider) -> None:
    meter = provider.get_meter("m")
    counter = meter.create_counter("c")
    updown = meter.create_up_down_counter("u")
    histogram = meter.create_histogram("h")
    meter.create_observable_gauge("g", callbacks=[lambda _o: [Observation(3.5, {"pool": "a"})]])
    sets: list[dict[str, Any]] = [
        {"state": "used", "pool": "a"},
        {"pool": "a", "state": "used"},  # the same set, other order
        {"state": "idle", "pool": "a"},
        {"flag": 1},
        {"flag": True},  # equal to 1 as a key, another series to the SDK
        {"flag": 1.0},
        {"n": "1"},
        {},
    ]
    tracer = TracerProvider().get_tracer("t")
    with tracer.start_as_current_span("request"):  # sampled: the SDK offers exemplars here
        for round_ in range(3):
            for attributes in sets:
                counter.add(1, attributes)
                updown.add(1 if round_ % 2 else -1, attributes)
                histogram.record(round_ * 10.0, attributes)


def test_points_equal_an_untouched_readers_without_exemplars() -> None:
    plain, lean = InMemoryMetricReader(), InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[plain, lean])
    assert lean_streams.install(provider, lean)
    _record(provider)
    expected, got = _points(plain), _points(lean)
    assert {key: value for key, (value, _) in got.items()} == {
        key: value for key, (value, _) in expected.items()
    }
    assert any(exemplars for _, exemplars in expected.values())  # the SDK's path did offer them
    assert not any(exemplars for _, exemplars in got.values())
    assert ("c", (("flag", ("bool", True)),)) in got and ("c", (("flag", ("int", 1)),)) in got


def test_a_repeated_string_set_is_not_hashed_again(monkeypatch: pytest.MonkeyPatch) -> None:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    lean_streams.install(provider, reader)
    counter = provider.get_meter("m").create_counter("c")
    counter.add(1, {"pool": "a", "state": "used"})  # first time: the SDK creates the series
    calls: list[Any] = []
    original = vim._hash_attributes
    monkeypatch.setattr(vim, "_hash_attributes", lambda value: calls.append(value) or original(value))
    for _ in range(5):
        counter.add(1, {"pool": "a", "state": "used"})
    assert calls == []
    counter.add(1, {"status": 200})  # not all strings: the SDK's path, every time
    counter.add(1, {"status": 200})
    assert len([c for c in calls if isinstance(c, dict)]) == 2  # one walk each (it recurses per value)
    assert _points(reader)[("c", (("pool", ("str", "a")), ("state", ("str", "used"))))][0] == 6


def test_the_cardinality_limit_still_overflows() -> None:
    previous = cardinality.install(limit=3)
    try:
        plain, lean = InMemoryMetricReader(), InMemoryMetricReader()
        provider = MeterProvider(metric_readers=[plain, lean])
        lean_streams.install(provider, lean)
        counter = provider.get_meter("m").create_counter("c")
        for i in range(6):
            for _ in range(2):
                counter.add(1, {"customer": f"c{i}"})
        got = _points(lean)
        assert got == _points(plain)
        assert got[("c", (("otel.metric.overflow", ("bool", True)),))][0] == 8
    finally:
        cardinality.install(limit=previous if previous != 3 else cardinality.DEFAULT_LIMIT)


def test_keep_gives_other_instruments_no_stream() -> None:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    lean_streams.install(provider, reader, keep=lambda instrument: instrument.name == "kept")
    meter = provider.get_meter("m")
    meter.create_counter("kept").add(1, {"a": "b"})
    meter.create_counter("other").add(1, {"a": "b"})
    assert {name for name, _ in _points(reader)} == {"kept"}


def test_an_sdk_without_the_storage_is_left_alone() -> None:
    class NoStorage:
        pass

    assert lean_streams.install(NoStorage(), InMemoryMetricReader()) is False  # type: ignore[arg-type]
