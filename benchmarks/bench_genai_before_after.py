"""``bench_genai.py`` before and after a change: the package at a git ref against the checkout.

Extracts ``otel_secretary/`` as of ``REF`` (``git archive``) into a temporary directory and runs
``bench_genai.py`` (this checkout's copy, so both sides are measured the same way) alternately with
that package first on ``PYTHONPATH`` ("before") and with the checkout ("after"), ``--repeats`` times
each. Every run measures its own bare and upstream arms, so a run's ratios are taken within one
process; the table shows medians over the runs of each side. Nothing is written to the checkout.

    .venv/bin/python benchmarks/bench_genai_before_after.py 8008461 [--repeats 4] [--calls 400] [--rounds 5]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
BENCH = HERE / "bench_genai.py"
REPO = HERE.parent
ARMS = ("upstream genai-openai", "our instrumentor", "attempt watcher only", "our decorator",
        "decorator + instrumentor")  # fmt: skip
TOOLS = ("SDK floor (1 span + 1 histogram point)", "@traced_tool", "traced_agent block")


def _extract(ref: str, into: Path) -> None:
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", "--format=tar", ref, "otel_secretary"],
        check=True,
        capture_output=True,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")


def _run(pythonpath: str | None, args: argparse.Namespace, out: Path) -> dict[str, Any]:
    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath + os.pathsep + env.get("PYTHONPATH", "")
    command = [sys.executable, str(BENCH), "--calls", str(args.calls), "--rounds", str(args.rounds)]
    subprocess.run(
        [*command, "--json", str(out)],
        check=True,
        env=env,
        cwd=str(out.parent),  # not the checkout: its package must not shadow the "before" one
        stdout=subprocess.DEVNULL,
    )
    figures: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("ref", help="git ref of the 'before' package, e.g. main or a commit")
    parser.add_argument("--repeats", type=int, default=4)
    parser.add_argument("--calls", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    runs: dict[str, list[dict[str, Any]]] = {"before": [], "after": []}
    with tempfile.TemporaryDirectory(prefix="bench-genai-") as tmp:
        before_root = Path(tmp) / "before"
        before_root.mkdir()
        _extract(args.ref, before_root)
        for repeat in range(args.repeats):
            sides = ("before", "after") if repeat % 2 == 0 else ("after", "before")
            for side in sides:
                out = Path(tmp) / f"{side}-{repeat}.json"
                path = str(before_root) if side == "before" else str(REPO)
                runs[side].append(_run(path, args, out))
                print(f"run {repeat + 1}/{args.repeats} {side} done", file=sys.stderr)

    def median(side: str, section: str, arm: str, key: str) -> float:
        values = [r[section][arm][key] for r in runs[side] if r[section][arm].get(key) is not None]
        return statistics.median(values) if values else float("nan")

    print(f"# GenAI per call, before ({args.ref}) and after, {args.repeats} runs each, medians")
    print(
        "\n| arm | µs above bare, before | after | x upstream, before | after | spans/call, before | after |"
    )
    print("|---|---|---|---|---|---|---|")
    for arm in ARMS:
        cells = [median(side, "model", arm, "above_bare_us") for side in ("before", "after")]
        ratios = [median(side, "model", arm, "x_upstream") for side in ("before", "after")]
        spans = [median(side, "model", arm, "spans_per_call") for side in ("before", "after")]
        print(
            f"| {arm} | {cells[0]:+.0f} | {cells[1]:+.0f} | {ratios[0]:.2f} | {ratios[1]:.2f} "
            f"| {spans[0]:.2f} | {spans[1]:.2f} |"
        )
    print(f"\nbare openai call: {median('after', 'model', 'bare', 'us_per_call'):.0f} µs (after runs)")
    print("\n| tool/agent arm | µs above bare function, before | after |\n|---|---|---|")
    for arm in TOOLS:
        cells = [median(side, "tools", arm, "above_bare_us") for side in ("before", "after")]
        print(f"| {arm} | {cells[0]:+.1f} | {cells[1]:+.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
