"""Server cost per request in CPU instructions (valgrind's callgrind): the same on a busy machine.

``bench_server.py`` reads the server's CPU seconds from /proc under open-loop load. On a shared two-core
machine the bare arm alone moves from 1.3 to 2.4 ms per request from one run to the next, and the goal
(ours adds no more CPU than upstream adds) sits inside that noise. Instructions executed do not move with
the machine's load. Each arm here is ``bench_server.py``'s (same app, gunicorn with one sync worker, the
same ``opentelemetry-instrument`` command and settings), run whole under ``valgrind --tool=callgrind
--trace-children=yes``: master, worker and every thread. It runs twice from a fresh data folder and
database, with the same warm-up, once with ``--requests`` more requests than the other, and stops with
SIGTERM as a deployment does (the last batches are exported on the way out). The difference divided by
``--requests`` is what one request costs the server, export thread included. ``PYTHONHASHSEED=0``.

Work that runs on a clock, not per request, is kept out of the difference and reported apart: under
callgrind a request takes about 50x longer, so a 1 s export delay or a 60 s metric interval would be
charged to 50x fewer requests than at 100 req/s. Here batches leave when full (512 items, as at a few
hundred requests per second) or at shutdown, metric export runs at shutdown only, and the rules engine's
minute evaluation (about 1 per 6,000 requests at 100 req/s; ``bench_rules.py`` times it) falls in either
run by the clock; its cost per evaluation with the shipped rules is a few million instructions, under
0.5 % of a run's difference.

Instructions are not time (cache misses, branch misses and the GIL's hand-offs are not counted), so this
is the repeatable half of the picture and ``bench_server.py`` (CPU seconds, p99) the other.

    .venv/bin/python benchmarks/bench_server_instructions.py [--requests 200] [--jobs 2] [--arms ...]

About a minute per run on a 2-core machine: the four default arms (eight runs) take about 5 minutes.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import bench_server  # noqa: E402  (the arms, app and sink are bench_server's)

WARM_UP = 40
DEFAULT_ARMS = ("bare", "upstream-otlp", "ours-embedded", "ours-otlp")
_TOTALS = re.compile(r"^(?:totals|summary):\s*(\d+)", re.MULTILINE)
_THREAD_FILE = re.compile(r"\.(\d+)(?:-(\d+))?$")


@dataclass
class Count:
    """Instructions of one run: the worker's request thread, the worker's other threads, the master."""

    request_thread: int
    other_threads: int
    master: int

    @property
    def worker(self) -> int:
        return self.request_thread + self.other_threads


def _instructions(path: Path) -> int:
    found = _TOTALS.findall(path.read_text(errors="replace"))
    if not found:
        raise SystemExit(f"{path}: no totals line (did the process exit cleanly?)")
    return int(found[-1])


def _tally(scratch: Path, master_pid: int) -> Count:
    request = other = master = 0
    for path in scratch.glob("callgrind.out.*"):
        matched = _THREAD_FILE.search(path.name)
        if matched is None or path.stat().st_size == 0:  # callgrind leaves an empty file per process
            continue
        pid, thread = int(matched.group(1)), int(matched.group(2) or 1)
        value = _instructions(path)
        if pid == master_pid:
            master += value
        elif thread == 1:
            request += value
        else:
            other += value
    return Count(request, other, master)


def _get_sequence(port: int, start: int, count: int) -> None:
    for i in range(start, start + count):
        if not asyncio.run(bench_server.fetch(port, f"/api/v1/notes/{i % 500}")):
            raise SystemExit(f"request {i} to 127.0.0.1:{port} failed")


def run(
    arm: str, requests: int, sink: bench_server.Sink, scratch_root: Path, before_src: Path | None = None
) -> Count:
    """One whole server lifetime under callgrind: start, warm-up, ``requests`` requests, SIGTERM."""
    scratch = Path(tempfile.mkdtemp(prefix=f"{arm}-{requests}-", dir=scratch_root))
    (scratch / "benchapp.py").write_text(bench_server.APP)
    command, env = bench_server.arm_env(arm, scratch, sink, before_src)
    port = bench_server.free_port()
    command = [part.replace("{port}", str(port)) for part in command]
    # A worker under callgrind is ~50x slower: gunicorn must not take its boot or its exit for a hang.
    at = next(i for i, part in enumerate(command) if part.endswith("gunicorn")) + 1
    command[at:at] = ["--timeout", "0", "--graceful-timeout", "600"]
    env |= {
        "PYTHONHASHSEED": "0",
        # Both runs of an arm compile the same modules: with bytecode written, whichever run started
        # first would also pay for compiling a fresh --before-src (or an edited checkout) for the other,
        # about 2 M instructions per request of bias over 300 requests.
        "PYTHONDONTWRITEBYTECODE": "1",
        # Work on a clock is kept out of the per-request difference (see the module docstring).
        "OTEL_BSP_SCHEDULE_DELAY": "3600000",
        "OTEL_BLRP_SCHEDULE_DELAY": "3600000",
        "OTEL_METRIC_EXPORT_INTERVAL": "3600000",
    }
    valgrind = [
        "valgrind",
        "--tool=callgrind",
        "--trace-children=yes",
        "--separate-threads=yes",
        f"--callgrind-out-file={scratch}/callgrind.out.%p",
    ]
    log = (scratch / "valgrind.log").open("w")
    server = subprocess.Popen(
        [*valgrind, *command],
        env=env,
        cwd=scratch,  # gunicorn puts its working directory first on the path: never the caller's checkout
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        failure = f"{arm}: server did not start under callgrind; see {scratch}/valgrind.log"
        bench_server.wait_until_serving(port, server, 900, failure)
        bench_server.check_origin(arm, port, before_src)
        _get_sequence(port, 0, WARM_UP + requests)
        server.send_signal(signal.SIGTERM)
        server.wait(1200)
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
        log.close()
    if server.returncode != 0:
        raise SystemExit(f"{arm}: server exited {server.returncode}; see {scratch}/valgrind.log")
    return _tally(scratch, server.pid)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=200, help="the difference in requests between runs")
    parser.add_argument("--jobs", type=int, default=2, help="callgrind runs at once")
    parser.add_argument("--arms", help=f"comma-separated arms (default {','.join(DEFAULT_ARMS)})")
    parser.add_argument("--keep", type=Path, help="keep the callgrind files in this folder")
    bench_server.add_before_src_argument(parser)
    args = parser.parse_args()
    bench_server.check_before_src(parser, args.before_src)
    if args.requests < 1 or args.jobs < 1:
        parser.error("--requests and --jobs must be at least 1")
    if shutil.which("valgrind") is None:
        parser.error("valgrind is not on PATH (Debian: apt-get install valgrind)")
    arms = [a.strip() for a in args.arms.split(",") if a.strip()] if args.arms else list(DEFAULT_ARMS)
    if args.before_src and not args.arms:
        arms += ["before-embedded", "before-otlp"]
    known = (*bench_server.REQUIRED, *bench_server.OPTIONAL, "before-embedded", "before-otlp")
    if unknown := [arm for arm in arms if arm not in known]:
        parser.error(f"--arms: unknown arm(s) {unknown}; known: {list(known)}")
    if any(arm.startswith("before-") for arm in arms) and not args.before_src:
        parser.error("--arms: the before-* arms need --before-src")
    if "bare" not in arms:
        arms.insert(0, "bare")
    sink = bench_server.Sink()
    runs = [(arm, n) for arm in arms for n in (0, args.requests)]
    with tempfile.TemporaryDirectory() as tmp:
        scratch_root = args.keep or Path(tmp)
        scratch_root.mkdir(parents=True, exist_ok=True)
        with ThreadPoolExecutor(args.jobs) as pool:
            counts = dict(
                zip(runs, pool.map(lambda r: run(*r, sink, scratch_root, args.before_src), runs), strict=True)
            )

    def per_request(arm: str, part: str) -> float:
        high, low = counts[(arm, args.requests)], counts[(arm, 0)]
        return float(getattr(high, part) - getattr(low, part)) / args.requests

    bare = per_request("bare", "worker")
    upstream = per_request("upstream-otlp", "worker") - bare if "upstream-otlp" in arms else None
    print(
        f"# Server instructions per request (callgrind, {args.requests} requests, gunicorn 1 sync worker,"
        f" PYTHONHASHSEED=0, Python {sys.version.split()[0]})"
    )
    print(
        "| arm | worker per request | above bare | x upstream's added | request thread | other threads"
        " | master (clock work) |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for arm in arms:
        worker = per_request(arm, "worker")
        above = worker - bare
        ratio = f"{above / upstream:.3f}" if upstream and arm != "bare" else "—"
        parts = [per_request(arm, part) / 1e6 for part in ("request_thread", "other_threads", "master")]
        print(
            f"| {arm} | {worker / 1e6:.3f} M | {above / 1e3:+,.0f} k | {ratio} | "
            + " | ".join(f"{p:.3f} M" for p in parts)
            + " |"
        )
    print(
        "(master: gunicorn's arbiter, and for our arms the process that evaluates the rules each minute;"
        " its work follows the clock, not the requests, and under callgrind a run lasts ~50x longer, so it"
        " is shown apart. Request thread vs other threads is approximate: the batches left at SIGTERM are"
        " exported by the thread that shuts down.)"
    )


if __name__ == "__main__":
    main()
