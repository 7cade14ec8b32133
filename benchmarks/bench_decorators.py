"""Overhead of ``@traced_ai_call`` per call (sync, async) and per streamed chunk, against the bare function.

Both run in the same process, interleaved, with a real SDK pipeline whose exporter drops everything
(BatchSpanProcessor + no-op exporter, a MeterProvider with an uncollected reader), so the figure is
what the app thread pays: span start/end, attributes, four histograms, the cost estimate.

    .venv/bin/python benchmarks/bench_decorators.py [--calls 20000] [--chunks 200] [--markdown]
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import statistics
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from otel_secretary.genai import GenAITelemetry, traced_ai_call

RESPONSE = {
    "id": "chatcmpl-bench",
    "model": "gpt-4o-mini-2024-07-18",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 120, "completion_tokens": 30},
}
CHUNK = {
    "id": "chatcmpl-bench",
    "model": "gpt-4o-mini-2024-07-18",
    "choices": [{"delta": {"content": "tok"}}],
}


class NoOpExporter(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        return None


def _best(samples: list[float]) -> float:
    # Median of the faster half: robust against the other helpers' processes sharing the 2 cores.
    ordered = sorted(samples)
    return statistics.median(ordered[: max(1, len(ordered) // 2)])


def measure_sync(func: Callable[..., Any], calls: int) -> float:
    started = time.perf_counter()
    for _ in range(calls):
        func(model="gpt-4o-mini")
    return (time.perf_counter() - started) / calls


def measure_async(func: Callable[..., Any], calls: int) -> float:
    async def run() -> float:
        started = time.perf_counter()
        for _ in range(calls):
            await func(model="gpt-4o-mini")
        return (time.perf_counter() - started) / calls

    return asyncio.run(run())


def measure_stream(func: Callable[..., Iterator[Any]], streams: int) -> float:
    started = time.perf_counter()
    for _ in range(streams):
        for _chunk in func(model="gpt-4o-mini"):
            pass
    return (time.perf_counter() - started) / streams


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--chunks", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args(argv)

    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(BatchSpanProcessor(NoOpExporter(), max_queue_size=8192))
    meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
    telemetry = GenAITelemetry(tracer_provider, meter_provider)
    traced = traced_ai_call(telemetry=telemetry)
    chunks = args.chunks

    def bare(model: str) -> dict[str, Any]:
        return RESPONSE

    async def bare_async(model: str) -> dict[str, Any]:
        return RESPONSE

    def bare_stream(model: str) -> Iterator[dict[str, Any]]:
        for _ in range(chunks):
            yield CHUNK

    async def bare_agen(model: str) -> AsyncIterator[dict[str, Any]]:
        for _ in range(chunks):
            yield CHUNK

    # The SDK floor: what any instrumentation pays to emit this span and these metric points
    # (one span with the same attributes, M1, M2 input/output, the cost counter), without our logic.
    tracer = tracer_provider.get_tracer("floor")
    meter = meter_provider.get_meter("floor")
    floor_duration = meter.create_histogram("floor.duration", unit="s")
    floor_tokens = meter.create_histogram("floor.tokens", unit="{token}")
    floor_cost = meter.create_counter("floor.cost", unit="USD")
    start_attributes = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o-mini",
    }
    end_attributes = {
        "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
        "gen_ai.response.id": "chatcmpl-bench",
        "gen_ai.response.finish_reasons": ("stop",),
        "gen_ai.usage.input_tokens": 120,
        "gen_ai.usage.output_tokens": 30,
        "app.genai.cost_usd": 3.6e-05,
    }
    metric_attributes = {**start_attributes, "gen_ai.response.model": "gpt-4o-mini-2024-07-18"}

    def floor(model: str) -> dict[str, Any]:
        with tracer.start_as_current_span("chat gpt-4o-mini", attributes=start_attributes) as span:
            result = RESPONSE
            span.set_attributes(end_attributes)
        floor_duration.record(0.001, metric_attributes)
        floor_tokens.record(120, {**metric_attributes, "gen_ai.token.type": "input"})
        floor_tokens.record(30, {**metric_attributes, "gen_ai.token.type": "output"})
        floor_cost.add(3.6e-05, start_attributes)
        return result

    # util-genai used directly (what the decorator builds on), to split "ours" from "theirs".
    handler = telemetry.handler

    def util_genai(model: str) -> dict[str, Any]:
        invocation = handler.inference("openai", request_model=model)
        result = RESPONSE
        data = invocation.data
        data.response_model = "gpt-4o-mini-2024-07-18"
        data.response_id = "chatcmpl-bench"
        data.response_finish_reasons = ["stop"]
        data.usage_input_tokens = 120
        data.usage_output_tokens = 30
        invocation.stop()
        return result

    decorated = traced(bare)
    decorated_async = traced(bare_async)
    decorated_stream = traced(bare_stream)

    streams = max(10, args.calls // chunks // 2)
    results: dict[str, list[float]] = {
        k: []
        for k in ("sync_bare", "sync", "floor", "util_genai", "async_bare", "async", "stream_bare", "stream")
    }
    measure_sync(decorated, 2000)  # warm caches (price resolution, instruments)
    for _ in range(args.rounds):
        results["sync_bare"].append(measure_sync(bare, args.calls))
        results["sync"].append(measure_sync(decorated, args.calls))
        results["floor"].append(measure_sync(floor, args.calls))
        results["util_genai"].append(measure_sync(util_genai, args.calls))
        results["async_bare"].append(measure_async(bare_async, args.calls))
        results["async"].append(measure_async(decorated_async, args.calls))
        results["stream_bare"].append(measure_stream(bare_stream, streams))
        results["stream"].append(measure_stream(decorated_stream, streams))
    best = {k: _best(v) for k, v in results.items()}
    figures = {
        "sync_overhead_us": (best["sync"] - best["sync_bare"]) * 1e6,
        "sdk_floor_us": (best["floor"] - best["sync_bare"]) * 1e6,
        "ours_above_floor_us": (best["sync"] - best["floor"]) * 1e6,
        "util_genai_direct_us": (best["util_genai"] - best["sync_bare"]) * 1e6,
        "ours_above_util_genai_us": (best["sync"] - best["util_genai"]) * 1e6,
        "async_overhead_us": (best["async"] - best["async_bare"]) * 1e6,
        # Per chunk: stream overhead minus one call's fixed overhead, spread over the chunks.
        "chunk_overhead_us": ((best["stream"] - best["stream_bare"]) - (best["sync"] - best["sync_bare"]))
        * 1e6
        / chunks,
        "stream_call_overhead_us": (best["stream"] - best["stream_bare"]) * 1e6,
        "sync_bare_us": best["sync_bare"] * 1e6,
        "async_bare_us": best["async_bare"] * 1e6,
    }
    tracer_provider.shutdown()
    meter_provider.shutdown()
    if args.markdown:
        print(f"| Python {platform.python_version()} on {platform.machine()} ({sys.platform}) | µs |")
        print("|---|---|")
        for key, value in figures.items():
            print(f"| {key} | {value:.2f} |")
    else:
        for key, value in figures.items():
            print(f"{key:26s} {value:8.2f}")
    return figures


if __name__ == "__main__":
    main()
