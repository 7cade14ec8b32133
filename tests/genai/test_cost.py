"""Cost estimation: the fast path agrees with genai-prices, overrides win, unknown models never raise."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from genai_prices import Usage as PricesUsage
from genai_prices import calc_price

from otel_secretary.genai import (
    COST_METRIC,
    UNPRICED_METRIC,
    GenAITelemetry,
    PriceBook,
    PriceFileError,
    Usage,
    load_price_file,
    traced_ai_call,
)
from otel_secretary.settings import load_settings
from tests.support.otel_harness import Harness


@pytest.mark.parametrize(
    ("model", "usage"),
    [
        ("gpt-4o-mini", Usage(input_tokens=12, output_tokens=3)),
        ("gpt-4o-mini-2024-07-18", Usage(input_tokens=1000, output_tokens=100, cache_read_tokens=400)),
        ("gpt-4.1", Usage(input_tokens=5000, output_tokens=0)),
        ("o3-mini", Usage(input_tokens=10, output_tokens=2000, reasoning_tokens=1500)),
    ],
    ids=["small", "cached", "input-only", "reasoning"],
)
def test_flat_fast_path_matches_genai_prices(model: str, usage: Usage) -> None:
    expected = calc_price(
        PricesUsage(
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            cache_read_tokens=usage.cache_read_tokens or 0,
        ),
        model,
        provider_id="openai",
    ).total_price
    assert PriceBook().estimate("openai", model, usage) == pytest.approx(float(expected), rel=1e-12)


def test_tiered_prices_go_through_genai_prices() -> None:
    usage = Usage(input_tokens=300_000, output_tokens=10)
    expected = calc_price(PricesUsage(input_tokens=300_000, output_tokens=10), "gemini-2.5-pro").total_price
    assert PriceBook().estimate("gcp.gemini", "gemini-2.5-pro", usage) == pytest.approx(float(expected))


def test_unknown_model_or_missing_usage_is_none() -> None:
    book = PriceBook()
    assert (
        book.estimate("openai", "my-finetune-that-nobody-knows", Usage(input_tokens=5, output_tokens=5))
        is None
    )
    assert book.estimate("openai", "gpt-4o-mini", Usage()) is None
    assert book.estimate("openai", None, Usage(input_tokens=1)) is None


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_override_file_wins_over_library(tmp_path: Path, suffix: str) -> None:
    content: dict[str, Any] = {
        "models": {
            "gpt-4o-mini": {"input": 1.0, "output": 2.0},
            "openai/ft:gpt-4o-mini:acme": {"input": 3.0, "output": 6.0, "cache_read": 1.5},
        }
    }
    path = tmp_path / f"prices{suffix}"
    if suffix == ".json":
        path.write_text(json.dumps(content))
    else:
        import yaml

        path.write_text(yaml.safe_dump(content))
    book = PriceBook.from_file(path)
    assert (
        book.estimate("openai", "gpt-4o-mini", Usage(input_tokens=1_000_000, output_tokens=1_000_000)) == 3.0
    )
    cached = Usage(input_tokens=1_000_000, output_tokens=0, cache_read_tokens=500_000)
    assert book.estimate("openai", "ft:gpt-4o-mini:acme", cached) == pytest.approx(1.5 + 0.75)


@pytest.mark.parametrize(
    "content",
    ['{"models": {"m": {"input": 1}}}', '{"models": {"m": {"input": "cheap", "output": 1}}}', "[1, 2]"],
    ids=["missing-output", "not-a-number", "not-a-mapping"],
)
def test_bad_override_file_is_rejected_with_reason(tmp_path: Path, content: str) -> None:
    path = tmp_path / "prices.json"
    path.write_text(content)
    with pytest.raises(PriceFileError, match=r"prices\.json"):
        load_price_file(path)


def test_cost_counter_by_model_and_tenant_and_unpriced_counter(tmp_path: Path, otel: Harness) -> None:
    from opentelemetry import baggage, context

    prices = tmp_path / "prices.yaml"
    prices.write_text("models:\n  gpt-4o-mini: {input: 1.0, output: 1.0}\n")
    settings = load_settings({"OTEL_SECRETARY_PRICES_FILE": str(prices)})
    telemetry = GenAITelemetry.from_settings(settings, otel.tracer_provider, otel.meter_provider)

    @traced_ai_call(telemetry=telemetry)
    def answer(model: str) -> dict[str, Any]:
        return {"model": model, "usage": {"prompt_tokens": 600_000, "completion_tokens": 400_000}}

    token = context.attach(baggage.set_baggage("app.tenant.id", "tenant-a"))
    try:
        answer(model="gpt-4o-mini")
        answer(model="gpt-4o-mini")
        answer(model="unknown-model-x")
    finally:
        context.detach(token)

    (cost,) = otel.points(COST_METRIC)
    assert cost.value == pytest.approx(2.0)
    assert dict(cost.attributes) == {
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o-mini",
        "app.tenant.id": "tenant-a",
    }
    (unpriced,) = otel.points(UNPRICED_METRIC)
    assert unpriced.value == 1 and unpriced.attributes["gen_ai.request.model"] == "unknown-model-x"
    assert otel.metrics()[COST_METRIC].unit == "USD"


def test_telemetry_objects_on_one_provider_all_count(otel: Harness) -> None:
    # The decorator's telemetry and the instrumentor's hook each build one: both calls must be counted.
    first = GenAITelemetry(otel.tracer_provider, otel.meter_provider)
    second = GenAITelemetry(otel.tracer_provider, otel.meter_provider)
    usage = Usage(input_tokens=1000, output_tokens=100)
    first.record_cost("openai", "gpt-4o-mini", "gpt-4o-mini", usage, "tenant-a")
    second.record_cost("openai", "gpt-4o-mini", "gpt-4o-mini", usage, "tenant-b")
    second.record_cost("openai", "gpt-4o-mini", "gpt-4o-mini", usage, "tenant-a")
    by_tenant = {point.attributes["app.tenant.id"]: point.value for point in otel.points(COST_METRIC)}
    one = PriceBook().estimate("openai", "gpt-4o-mini", usage)
    assert one is not None
    assert by_tenant == {"tenant-a": pytest.approx(2 * one), "tenant-b": pytest.approx(one)}


def test_the_global_provider_and_the_same_provider_given_explicitly_share_one_counter() -> None:
    # Run apart: the global meter provider can be set once per process.
    script = """
from opentelemetry import metrics
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from otel_secretary.genai import GenAITelemetry, Usage

reader = InMemoryMetricReader()
provider = MeterProvider(metric_readers=[reader])
metrics.set_meter_provider(provider)
usage = Usage(input_tokens=1000, output_tokens=100)
GenAITelemetry().record_cost("openai", "gpt-4o-mini", "gpt-4o-mini", usage, "by-default")
GenAITelemetry(meter_provider=provider).record_cost("openai", "gpt-4o-mini", "gpt-4o-mini", usage, "explicit")
tenants = sorted(
    point.attributes["app.tenant.id"]
    for resource in reader.get_metrics_data().resource_metrics
    for scope in resource.scope_metrics
    for metric in scope.metrics
    if metric.name == "app.genai.cost"
    for point in metric.data.data_points
)
print(tenants)
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.strip() == "['by-default', 'explicit']", done.stderr
