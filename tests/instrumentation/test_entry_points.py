"""Our instrumentors load the way ``opentelemetry-instrument`` loads them, under names of their own."""

from __future__ import annotations

from importlib.metadata import entry_points

import pytest
from opentelemetry.instrumentation.dependencies import get_dist_dependency_conflicts

from tests.support.otel_harness import Harness

OURS = ("secretary_openai", "secretary_stripe", "secretary_google_calendar")


@pytest.mark.parametrize("name", OURS)
def test_entry_point_loads_and_instruments_with_dependency_check(name: str, otel: Harness) -> None:
    (entry_point,) = [ep for ep in entry_points(group="opentelemetry_instrumentor") if ep.name == name]
    instrumentor = entry_point.load()()
    assert get_dist_dependency_conflicts(entry_point.dist) is None
    instrumentor.instrument(tracer_provider=otel.tracer_provider, meter_provider=otel.meter_provider)
    try:
        assert instrumentor.is_instrumented_by_opentelemetry
    finally:
        instrumentor.uninstrument()
    assert not instrumentor.is_instrumented_by_opentelemetry


def test_names_do_not_collide_with_other_openai_instrumentations() -> None:
    names = [ep.name for ep in entry_points(group="opentelemetry_instrumentor")]
    for name in OURS:
        assert names.count(name) == 1
