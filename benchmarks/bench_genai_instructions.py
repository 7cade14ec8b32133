"""GenAI overhead per model call in CPU instructions (valgrind's callgrind): the same on a busy machine.

``bench_genai.py`` times each arm in CPU seconds; on a shared two-core machine identical code moves by
±15 µs (about ±7 % of upstream's overhead) from run to run, which is the size of the differences worth
knowing. Instructions executed do not move with the machine's load: each arm runs in its own process
under ``valgrind --tool=callgrind`` twice, after the same warm-up, once with ``--calls`` more calls than
the other, and the difference divided by ``--calls`` is that arm's instructions per call (start-up,
imports and warm-up cancel out). ``PYTHONHASHSEED=0`` keeps dict and set layouts the same from run to
run. The arms are ``bench_genai.py``'s, with its client, answer and pipeline.

Instructions are not time (memory stalls and branch misses are not counted), so this is the repeatable
half of the picture and ``bench_genai.py`` the other; the docs quote both.

    .venv/bin/python benchmarks/bench_genai_instructions.py [--calls 300] [--jobs 2] [--arms "our decorator"]

About a minute per arm and job on this machine (Python runs ~50x slower under callgrind).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
WARM_UP = 100
BASE_ARMS = ("bare", "upstream genai-openai")
DEFAULT_ARMS = ("our decorator", "decorator + instrumentor")
_COLLECTED = re.compile(r"Collected\s*:\s*(\d+)")


def child(arm: str, calls: int) -> None:
    """Runs under callgrind: one arm, the warm-up, then ``calls`` calls, everything flushed."""
    sys.path.insert(0, str(HERE))
    import bench_genai
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(BatchSpanProcessor(bench_genai.DropExporter()))
    meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
    arms = bench_genai.model_call_arms(tracer_provider, meter_provider)
    if arm not in arms:
        sys.exit(f"--child: unknown arm {arm!r}; known: {sorted(arms)}")
    setup, call, teardown = arms[arm]
    setup()
    for _ in range(WARM_UP + calls):
        call()
    tracer_provider.force_flush()
    teardown()


def _arm_names() -> set[str]:
    """Checked before any callgrind run starts: a misspelt arm would otherwise fail minutes in."""
    sys.path.insert(0, str(HERE))
    import bench_genai
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.trace import TracerProvider

    return set(bench_genai.model_call_arms(TracerProvider(), MeterProvider()))


def count(arm: str, calls: int, scratch: Path) -> int:
    """Instructions of one whole child process under callgrind."""
    out = scratch / f"callgrind.{abs(hash((arm, calls)))}.out"
    valgrind = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}"]
    result = subprocess.run(
        [*valgrind, sys.executable, __file__, "--child", arm, str(calls)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONHASHSEED": "0"},
        check=False,
    )
    found = _COLLECTED.search(result.stderr)
    if result.returncode != 0 or found is None:
        raise SystemExit(f"callgrind run of {arm!r} ({calls} calls) failed:\n{result.stderr[-2000:]}")
    return int(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=300, help="the difference in calls between two runs")
    parser.add_argument("--jobs", type=int, default=2, help="callgrind processes at once")
    parser.add_argument("--arms", help=f"comma-separated arms besides {', '.join(BASE_ARMS)}")
    parser.add_argument("--child", nargs=2, metavar=("ARM", "CALLS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]))
        return
    if args.calls < 1 or args.jobs < 1:
        parser.error("--calls and --jobs must be at least 1")
    if shutil.which("valgrind") is None:
        parser.error("valgrind is not on PATH (Debian: apt-get install valgrind)")
    arms = [*BASE_ARMS, *(a.strip() for a in args.arms.split(",") if a.strip())] if args.arms else [
        *BASE_ARMS, *DEFAULT_ARMS]  # fmt: skip
    known = _arm_names()
    if unknown := [arm for arm in arms if arm not in known]:
        parser.error(f"--arms: unknown arm(s) {unknown}; known: {sorted(known)}")
    runs = [(arm, calls) for arm in arms for calls in (0, args.calls)]
    with tempfile.TemporaryDirectory() as scratch, ThreadPoolExecutor(args.jobs) as pool:
        totals = dict(zip(runs, pool.map(lambda run: count(*run, Path(scratch)), runs), strict=True))
    per_call = {arm: (totals[(arm, args.calls)] - totals[(arm, 0)]) / args.calls for arm in arms}
    bare, upstream = per_call["bare"], per_call["upstream genai-openai"] - per_call["bare"]
    print(f"# GenAI overhead in instructions per call (callgrind, {args.calls} calls, PYTHONHASHSEED=0)")
    print("| model call arm | instructions per call | above bare | x upstream |\n|---|---:|---:|---:|")
    for arm in arms:
        above = per_call[arm] - bare
        ratio = f"{above / upstream:.3f}" if arm != "bare" else "—"
        print(f"| {arm} | {per_call[arm] / 1e6:.3f} M | {above / 1e3:+,.0f} k | {ratio} |")


if __name__ == "__main__":
    main()
