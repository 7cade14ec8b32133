from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from otel_secretary.pii import Masker
from tests.support.otel_harness import Harness, scoped_points

CORPUS = Path(__file__).with_name("corpus.yaml")


def load_corpus() -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = yaml.safe_load(CORPUS.read_text(encoding="utf-8"))["cases"]
    return cases


@pytest.fixture
def metric_reader(otel: Harness) -> InMemoryMetricReader:
    """What the masker's meter provider (the ``otel`` harness's) counts."""
    return otel.reader


@pytest.fixture
def masker(otel: Harness) -> Masker:
    return Masker(meter_provider=otel.meter_provider)


def counter_values(reader: InMemoryMetricReader, name: str) -> dict[tuple[tuple[str, Any], ...], int]:
    """Data points of one counter, keyed by their sorted attributes."""
    return {
        tuple(sorted((point.attributes or {}).items())): int(point.value)
        for _scope, point in scoped_points(reader, name)
    }
