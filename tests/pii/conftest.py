from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from otel_secretary.pii import Masker

CORPUS = Path(__file__).with_name("corpus.yaml")


def load_corpus() -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = yaml.safe_load(CORPUS.read_text(encoding="utf-8"))["cases"]
    return cases


@pytest.fixture
def metric_reader() -> InMemoryMetricReader:
    return InMemoryMetricReader()


@pytest.fixture
def masker(metric_reader: InMemoryMetricReader) -> Masker:
    return Masker(meter_provider=MeterProvider(metric_readers=[metric_reader]))


def counter_values(reader: InMemoryMetricReader, name: str) -> dict[tuple[tuple[str, Any], ...], int]:
    """Data points of one counter, keyed by their sorted attributes."""
    data = reader.get_metrics_data()
    result: dict[tuple[tuple[str, Any], ...], int] = {}
    if data is None:
        return result
    for rm in data.resource_metrics:
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                if metric.name == name:
                    for point in metric.data.data_points:
                        result[tuple(sorted((point.attributes or {}).items()))] = int(point.value)  # type: ignore[union-attr]
    return result
