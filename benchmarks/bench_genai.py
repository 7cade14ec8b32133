"""GenAI overhead per model call with the real ``openai`` client, and of tool and agent spans.

Model calls: ``client.chat.completions.create`` against an in-process ``httpx2.MockTransport`` (no
network, a fixed JSON answer with usage), so what is left is the openai client's own work plus each
arm's instrumentation. Arms, interleaved round by round in one process:

- ``bare``: nothing instrumented (the baseline every other arm is compared with);
- ``upstream``: ``opentelemetry-instrumentation-genai-openai`` alone, as upstream ships it;
- ``instrumentor``: our ``SecretaryOpenAIInstrumentor`` (upstream + our completion hook + attempt watcher);
- ``attempt watcher only``: ours with ``inference_spans=False`` (retry spans, attempt metric, gauges);
- ``decorator``: ``@traced_ai_call`` around the bare client;
- ``decorator+instrumentor``: what the example app runs under ``opentelemetry-instrument``;
- ``... + httpx2``: the same two setups with upstream's httpx2 instrumentation on the client's transport,
  as ``opentelemetry-bootstrap -a install`` gives an app on openai 3.x: upstream then adds an HTTP CLIENT
  span, ``http.client.request.duration`` and ``traceparent`` per call; under our instrumentor it is
  suppressed inside each attempt (our attempt layer records the metric and injects, with no span unless
  the call is retried). Issue 15's goal compares ``decorator + instrumentor`` with ``upstream genai-openai``.

Tool and agent spans: ``@traced_tool`` on a function that returns a dict, and a ``traced_agent``
block, each against the bare function, next to the SDK floor (one span with the same attributes and
one histogram point, no logic).

Pipeline: SDK ``TracerProvider`` + ``BatchSpanProcessor`` + an exporter that drops everything, and a
``MeterProvider`` with an uncollected ``InMemoryMetricReader``; figures are the median of the
faster half of the rounds, in CPU time of this process (other jobs share the machine; the exporter
thread's work is included, as it runs in this process too).

    .venv/bin/python benchmarks/bench_genai.py [--calls 1500] [--rounds 7] [--markdown] [--json PATH]

Before/after a change: ``benchmarks/bench_genai_before_after.py REF`` runs this script against the
package as of git ``REF`` and against the checkout, alternately, and reports medians.
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import httpx2
import openai
from opentelemetry.instrumentation.genai.openai import OpenAIInstrumentor
from opentelemetry.instrumentation.httpx import HTTPX2ClientInstrumentor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import SpanKind

from otel_secretary.genai import GenAITelemetry, traced_agent, traced_ai_call, traced_tool
from otel_secretary.instrumentation.openai import SecretaryOpenAIInstrumentor

ANSWER = {
    "id": "chatcmpl-bench",
    "object": "chat.completion",
    "created": 0,
    "model": "gpt-4o-mini-2024-07-18",
    # As OpenAI's answers carry them; genai-openai puts both on its metric points.
    "service_tier": "default",
    "system_fingerprint": "fp_bench0001",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "ok"},
            "finish_reason": "stop",
            "logprobs": None,
        }
    ],
    "usage": {
        "prompt_tokens": 120,
        "completion_tokens": 30,
        "total_tokens": 150,
        "prompt_tokens_details": {"cached_tokens": 64},
        "completion_tokens_details": {"reasoning_tokens": 8},
    },
}
BODY = json.dumps(ANSWER).encode()
HEADERS = {
    "content-type": "application/json",
    "x-ratelimit-remaining-requests": "99",
    "x-ratelimit-limit-requests": "100",
}
MESSAGES = [{"role": "user", "content": "Summarise the meeting notes."}]


class DropExporter(SpanExporter):
    """Drops every span, counting them (spans per call is part of the table)."""

    def __init__(self) -> None:
        self.count = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.count += len(spans)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        return None


def _best(samples: list[float]) -> float:
    ordered = sorted(samples)
    return statistics.median(ordered[: max(1, len(ordered) // 2)])


def _client() -> openai.OpenAI:
    transport = httpx2.MockTransport(lambda request: httpx2.Response(200, headers=HEADERS, content=BODY))
    return openai.OpenAI(
        api_key="sk-bench", base_url="http://bench.invalid/v1", http_client=httpx2.Client(transport=transport)
    )


def _with_httpx2(
    instrument: Callable[[], Any],
    uninstrument: Callable[[], Any],
    http_client: Any,
    providers: dict[str, Any],
) -> tuple[Callable[[], None], Callable[[], None]]:
    """Setup/teardown that also instrument the client's transport as upstream's httpx2 instrumentation
    does for every transport under ``opentelemetry-instrument`` (``opentelemetry-bootstrap -a install``
    installs it next to genai-openai; it wraps ``HTTPTransport``, so the mock transport is wrapped
    per client here, with the same wrapper)."""

    def setup() -> None:
        instrument()
        HTTPX2ClientInstrumentor.instrument_client(http_client, **providers)

    def teardown() -> None:
        HTTPX2ClientInstrumentor.uninstrument_client(http_client)
        uninstrument()

    return setup, teardown


def _time(func: Callable[[], Any], calls: int) -> float:
    # CPU time of this process: other jobs on the shared cores slow the wall clock, not this. Every
    # sample starts from a collected heap, so a full collection the previous arm's garbage made due
    # does not land in whichever arm happens to run next.
    gc.collect()
    started = time.process_time()
    for _ in range(calls):
        func()
    return (time.process_time() - started) / calls


def model_call_arms(tracer_provider: TracerProvider, meter_provider: MeterProvider) -> dict[str, Any]:
    client = _client()
    telemetry = GenAITelemetry(tracer_provider, meter_provider)
    providers = {"tracer_provider": tracer_provider, "meter_provider": meter_provider}

    def bare() -> Any:
        return client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)

    decorated = traced_ai_call(model="gpt-4o-mini", telemetry=telemetry)(bare)
    upstream = OpenAIInstrumentor()
    ours = SecretaryOpenAIInstrumentor()

    # (setup, call, teardown) per arm; setup/teardown run outside the timed loop.
    def nothing() -> None:
        return None

    upstream_http = _with_httpx2(
        lambda: upstream.instrument(**providers), upstream.uninstrument, client._client, providers
    )
    ours_http = _with_httpx2(
        lambda: ours.instrument(**providers, genai_telemetry=telemetry),
        ours.uninstrument,
        client._client,
        providers,
    )
    return {
        "bare": (nothing, bare, nothing),
        "upstream genai-openai": (lambda: upstream.instrument(**providers), bare, upstream.uninstrument),
        "upstream genai-openai + httpx2": (upstream_http[0], bare, upstream_http[1]),
        "our instrumentor": (
            lambda: ours.instrument(**providers, genai_telemetry=telemetry),
            bare,
            ours.uninstrument,
        ),
        "attempt watcher only": (
            lambda: ours.instrument(**providers, inference_spans=False),
            bare,
            ours.uninstrument,
        ),
        "our decorator": (nothing, decorated, nothing),
        "decorator + instrumentor": (
            lambda: ours.instrument(**providers, genai_telemetry=telemetry),
            decorated,
            ours.uninstrument,
        ),
        "decorator + instrumentor + httpx2": (ours_http[0], decorated, ours_http[1]),
    }


def agent_arms(
    tracer_provider: TracerProvider, meter_provider: MeterProvider
) -> dict[str, Callable[[], Any]]:
    telemetry = GenAITelemetry(tracer_provider, meter_provider)
    tracer = tracer_provider.get_tracer("bench.floor")
    histogram = meter_provider.get_meter("bench.floor").create_histogram("bench.floor.duration", unit="s")

    def lookup(email: str) -> dict[str, str]:
        return {"plan": "pro", "email": email}

    tool = traced_tool(name="lookup_subscription", description="Find the subscription.", telemetry=telemetry)(
        lookup
    )

    def sdk_floor() -> None:
        attributes = {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": "lookup_subscription",
            "gen_ai.tool.type": "function",
            "gen_ai.tool.description": "Find the subscription.",
        }
        started = time.perf_counter()
        with tracer.start_as_current_span("execute_tool lookup_subscription", kind=SpanKind.INTERNAL) as span:
            span.set_attributes(attributes)
            lookup("a@example.com")
        histogram.record(time.perf_counter() - started, {"gen_ai.tool.name": "lookup_subscription"})

    def agent() -> None:
        with traced_agent("secretary", model="gpt-4o-mini", telemetry=telemetry):
            lookup("a@example.com")

    return {
        "bare function": lambda: lookup("a@example.com"),
        "SDK floor (1 span + 1 histogram point)": sdk_floor,
        "@traced_tool": lambda: tool("a@example.com"),
        "traced_agent block": agent,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--calls", type=int, default=1500)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument(
        "--arms", help="comma-separated model-call arms to run (bare and upstream always run); default all"
    )
    parser.add_argument("--no-tools", action="store_true", help="skip the tool and agent arms")
    parser.add_argument(
        "--json", metavar="PATH", help="also write the figures as JSON (for before/after runs)"
    )
    args = parser.parse_args()

    tracer_provider = TracerProvider()
    exporter = DropExporter()
    tracer_provider.add_span_processor(BatchSpanProcessor(exporter))
    meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])

    model_arms = model_call_arms(tracer_provider, meter_provider)
    if args.arms:
        wanted = {"bare", "upstream genai-openai", *(a.strip() for a in args.arms.split(","))}
        unknown = wanted - set(model_arms)
        if unknown:
            parser.error(f"--arms: unknown arm(s) {sorted(unknown)}; known: {sorted(model_arms)}")
        model_arms = {name: arm for name, arm in model_arms.items() if name in wanted}
    model_samples: dict[str, list[float]] = {name: [] for name in model_arms}
    tool_arms = {} if args.no_tools else agent_arms(tracer_provider, meter_provider)
    tool_samples: dict[str, list[float]] = {name: [] for name in tool_arms}
    for setup, call, teardown in model_arms.values():  # warm-up: imports, caches, price lookup
        setup()
        _time(call, 50)
        teardown()
    spans_per_call: dict[str, float] = {}
    for _round in range(args.rounds):
        for name, (setup, call, teardown) in model_arms.items():
            setup()
            try:
                tracer_provider.force_flush()
                before = exporter.count
                model_samples[name].append(_time(call, args.calls))
                tracer_provider.force_flush()
                spans_per_call[name] = (exporter.count - before) / args.calls
            finally:
                teardown()
        for name, func in tool_arms.items():
            tool_samples[name].append(_time(func, args.calls * 4))

    model = {name: _best(samples) * 1e6 for name, samples in model_samples.items()}
    tools = {name: _best(samples) * 1e6 for name, samples in tool_samples.items()}
    bare, upstream = model["bare"], model["upstream genai-openai"] - model["bare"]
    print(f"# GenAI overhead ({platform.python_version()}, {args.calls} calls x {args.rounds} rounds)")
    if args.markdown:
        print(
            "\n| model call arm | µs per call | above bare | x upstream | spans per call |"
            "\n|---|---|---|---|---|"
        )
    for name, value in model.items():
        above = value - bare
        ratio = above / upstream if upstream > 0 and name != "bare" else float("nan")
        spans = spans_per_call.get(name, float("nan"))
        if args.markdown:
            print(f"| {name} | {value:.0f} | {above:+.0f} | {ratio:.2f} | {spans:.2f} |")
        else:
            print(
                f"{name:28s} {value:8.1f} µs  above bare {above:+7.1f} µs  x upstream {ratio:.2f}"
                f"  spans/call {spans:.2f}"
            )
    floor = tools.get("bare function", 0.0)
    if args.markdown and tools:
        print("\n| tool/agent arm | µs per call | above bare function |\n|---|---|---|")
    for name, value in tools.items():
        if args.markdown:
            print(f"| {name} | {value:.1f} | {value - floor:+.1f} |")
        else:
            print(f"{name:40s} {value:8.2f} µs  above bare {value - floor:+7.2f} µs")
    if args.json:
        figures = {
            "model": {
                name: {
                    "us_per_call": value,
                    "above_bare_us": value - bare,
                    "x_upstream": (value - bare) / upstream if upstream > 0 else None,
                    "spans_per_call": spans_per_call.get(name),
                }
                for name, value in model.items()
            },
            "tools": {
                name: {"us_per_call": value, "above_bare_us": value - floor} for name, value in tools.items()
            },
        }
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(figures, handle, indent=2)
    tracer_provider.shutdown()
    meter_provider.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
