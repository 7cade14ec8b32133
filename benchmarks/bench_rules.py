"""The in-process rule engine: evaluation of 100 rules over 10,000 series, and the per-span cost.

Issue 12 "Speed": goals < 50 ms per evaluation (100 rules x 10,000 series) and < 5 µs per span in the
span processor with the 20 shipped rules. Measured here, never in tests.

* evaluation: 100 span rules (SLO availability, error-rate, latency-share, in rotation) x 100 routes each
  = 10,000 series, 70 minutes of per-minute history; then ``evaluate()`` timed at successive minutes.
  Two traffic mixes from the same run: *healthy* (no bad events: most series are skipped after one window
  read) and *burning* (every series has 2% bad events: every tier of every series is computed).
* memory: tracemalloc of the engine's series (rings sized by each rule's longest window), per series.
* per span: ``EngineSpanProcessor.on_end`` with the 20 shipped rules on SDK spans matching four of them,
  and on spans matching none.

Run: ``.venv/bin/python benchmarks/bench_rules.py [--rules 100] [--routes 100]``
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import tracemalloc
from pathlib import Path

from otel_secretary.rules.engine import EngineOptions, RuleEngine
from otel_secretary.rules.spec import RuleSpec, default_rules_dir, load_dir, load_file

KINDS = (
    ["kind: slo", "objective: 99", "no_data: false"],
    ["kind: error_rate", "threshold: 0.1", "window: 5m"],
    ["kind: latency", "latency_threshold: 1s", "threshold: 0.2", "window: 10m"],
)


def _specs(count: int, folder: Path) -> list[RuleSpec]:
    lines = ["rules:"]
    for i in range(count):
        lines.append(f"  - name: R{i}")
        lines += [f"    {field}" for field in KINDS[i % len(KINDS)]]
        lines += [
            "    by: [service_name, span_name]",
            f'    selector: {{span_name_prefix: "r{i} ", span_kind: server}}',
            '    annotations: {summary: "{{ $labels.span_name }}", runbook_url: docs/runbooks/error-rate.md}',
        ]
    path = folder / "bench.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return load_file(path)


def _fill(engine: RuleEngine, rules: int, routes: int, minutes: int, bad_share: float, start: int) -> None:
    """Per-minute counts of every series, folded in as the evaluator folds the data folder's count files
    (``ingest``): the same windows as spans observed one by one, built in a fraction of the time."""
    names = [spec.name for spec in engine.specs]
    for minute in range(start, start + minutes):
        engine.ingest(
            (minute, names[i], ("api", f"r{i} GET /route/{r}"), [10 * bad_share, 10.0])
            for i in range(rules)
            for r in range(routes)
        )


def bench_evaluation(rules: int, routes: int, bad_share: float, folder: Path) -> dict[str, float]:
    specs = _specs(rules, folder)
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    engine = RuleEngine(specs, EngineOptions(max_series=rules * routes, max_series_bytes=1 << 40))
    _fill(engine, rules, routes, 70, bad_share, start=29_000_000)
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    memory = sum(s.size_diff for s in after.compare_to(before, "filename"))
    series = len(engine._series)
    times = []
    for minute in range(29_000_070, 29_000_080):
        started = time.perf_counter()
        engine.evaluate(minute * 60 + 0.5)
        times.append(time.perf_counter() - started)
    return {
        "series": series,
        "median_ms": statistics.median(times) * 1000,
        "max_ms": max(times) * 1000,
        "memory_mb": memory / 1e6,
        "per_series_kb": memory / series / 1e3,
    }


def bench_cap_memory(folder: Path) -> float:
    """Memory of a full 2,000-series cap of the shipped ApiAvailability SLO (3-day rings), per series."""
    (spec,) = [s for s in load_dir(default_rules_dir()) if s.name == "ApiAvailability"]
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    engine = RuleEngine([spec], EngineOptions(max_series=2000))
    for i in range(2000):
        engine.observe_span("api", f"GET /r/{i}", "server", False, 0.01, 1_740_000_030.0)
    engine._flush()
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    return sum(s.size_diff for s in after.compare_to(before, "filename")) / 1e6


def bench_per_span() -> dict[str, float]:
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.trace import SpanKind

    from otel_secretary.rules.embedded import EmbeddedRules

    specs = load_dir(default_rules_dir())
    with tempfile.TemporaryDirectory() as data:
        rules = EmbeddedRules(specs, Path(data))
        provider = TracerProvider(resource=Resource.create({"service.name": "ai-secretary"}))
        tracer = provider.get_tracer("bench")
        results = {"shipped_rules": float(len(specs))}
        for label, name, kind in (
            ("matching_4_rules_us", "GET /api/v1/messages", SpanKind.SERVER),
            ("matching_none_us", "render template", SpanKind.INTERNAL),
        ):
            spans = []
            for _ in range(2000):
                span = tracer.start_span(name, kind=kind)
                span.end()
                spans.append(span)
            processor = rules.span_processor
            rounds = []
            for _ in range(5):
                started = time.perf_counter()
                for span in spans * 5:
                    processor.on_end(span)  # type: ignore[arg-type]
                rounds.append((time.perf_counter() - started) / (len(spans) * 5))
            results[label] = statistics.median(rounds) * 1e6
        rules.shutdown()
        provider.shutdown()
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rules", type=int, default=100)
    parser.add_argument("--routes", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for label, bad in (("healthy", 0.0), ("burning 2%", 0.02)):
            result = bench_evaluation(args.rules, args.routes, bad, folder)
            print(
                f"evaluation, {args.rules} rules x {result['series']:.0f} series, {label}: "
                f"median {result['median_ms']:.1f} ms, max {result['max_ms']:.1f} ms per evaluation; "
                f"series memory {result['memory_mb']:.1f} MB ({result['per_series_kb']:.1f} kB/series)"
            )
        print(f"2,000-series cap of a 3-day SLO (ApiAvailability): {bench_cap_memory(folder):.1f} MB")
    per_span = bench_per_span()
    print(
        f"on_end per span with the {per_span['shipped_rules']:.0f} shipped rules: "
        f"{per_span['matching_4_rules_us']:.2f} us (span matching 4 rules), "
        f"{per_span['matching_none_us']:.2f} us (matching none)"
    )


if __name__ == "__main__":
    main()
