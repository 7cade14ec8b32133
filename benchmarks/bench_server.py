"""A real server under open-loop load: what an instrumented request costs the SERVER, bare vs ours.

``bench_request_overhead.py`` times a direct WSGI call, which leaves out the export thread: the thread that
masks, encodes and writes batches while requests wait for the GIL. This one runs the app the way users do
(gunicorn, one sync worker, under ``opentelemetry-instrument``), drives it from another process at a fixed
rate (open loop: a request's latency counts from when it was *due*, so a stalled server cannot hide its
queue by slowing the client down), and reads the server's CPU from /proc (master + worker) before and after.

Arms (each its own gunicorn, run in interleaved rounds so machine noise hits all alike):
  bare            no OpenTelemetry
  upstream-none   upstream distro + configurator, every exporter ``none`` (the hooks' floor)
  upstream-otlp   upstream distro, OTLP http/protobuf to a local sink
  ours-embedded   our distro, embedded default (masking, JSON-lines files, /metrics, rules engine)
  ours-otlp       our distro, OTLP http/protobuf to the same sink
  logfire, sentry optional (``--with-optional``): Logfire's Flask instrumentation (nothing sent) and
                  sentry-sdk with traces at 100% to a local ingest that accepts everything

The route does what a light API route does: one SELECT and one INSERT on SQLite through SQLAlchemy, and
one log line. Needs the ``bench`` extra (opentelemetry-distro for the upstream arms, logfire).

Run: ``.venv/bin/python benchmarks/bench_server.py [--rate 100] [--seconds 20] [--rounds 2]``
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import urllib.request
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

APP = textwrap.dedent(
    """
    import logging, os
    from flask import Flask, jsonify
    from sqlalchemy import create_engine, text

    arm = os.environ["BENCH_ARM"]
    if arm == "logfire":
        import logfire
        logfire.configure(send_to_logfire=False, console=False)
    if arm == "sentry":
        import sentry_sdk
        sentry_sdk.init(dsn=os.environ["BENCH_SENTRY_DSN"], traces_sample_rate=1.0)

    logging.basicConfig(level=logging.INFO)
    log = logging.getLogger("bench.app")
    engine = create_engine("sqlite:///" + os.environ["BENCH_DB"])
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, body TEXT)"))
    app = Flask("bench")
    if arm == "logfire":
        logfire.instrument_flask(app)
        logfire.instrument_sqlalchemy(engine)

    @app.get("/api/v1/notes/<int:note_id>")
    def note(note_id):
        with engine.begin() as conn:
            row = conn.execute(text("SELECT count(*) FROM notes WHERE id <= :n"), {"n": note_id}).scalar()
            conn.execute(text("INSERT INTO notes (body) VALUES (:b)"), {"b": "summary"})
        log.info("note %s read", note_id)
        return jsonify(id=note_id, before=row)

    @app.get("/health")
    def health():
        return "ok"

    @app.get("/origin")
    def origin():  # which otel_secretary this server imported (the bench checks --before-src arms)
        import sys
        return getattr(sys.modules.get("otel_secretary"), "__file__", None) or "-"
    """
)

REQUIRED = ("bare", "upstream-none", "upstream-otlp", "ours-embedded", "ours-otlp")
OPTIONAL = ("logfire", "sentry")


class Sink:
    """Accepts every POST (OTLP/HTTP or a Sentry envelope) and answers 200: a collector that keeps up."""

    def __init__(self) -> None:
        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            def handle_error(self, request: Any, client_address: Any) -> None:
                # A server under test is killed mid-send at the end of each arm: not worth a traceback.
                if not isinstance(sys.exc_info()[1], ConnectionError):
                    super().handle_error(request, client_address)

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def arm_env(
    arm: str, workdir: Path, sink: Sink, before_src: Path | None = None
) -> tuple[list[str], dict[str, str]]:
    venv_bin = Path(sys.executable).parent
    # ``before-*`` arms run another checkout's otel_secretary (``--before-src``) ahead of the installed one.
    source = f"{before_src}:" if arm.startswith("before-") and before_src else ""
    env = {
        "PATH": f"{venv_bin}:/usr/bin:/bin",
        "PYTHONPATH": f"{source}{workdir}",
        "HOME": os.environ.get("HOME", "/root"),
        "BENCH_ARM": arm,
        "BENCH_DB": str(workdir / f"{arm}.db"),
        "BENCH_SENTRY_DSN": f"http://public@127.0.0.1:{sink.port}/1",
        "OTEL_SERVICE_NAME": "bench",
        # Every arm exports its batches within a second (the SDK default waits 5 s), so the CPU window
        # below holds the export work of the requests it counts, not a random number of 5 s batches.
        "OTEL_BSP_SCHEDULE_DELAY": "1000",
        "OTEL_BLRP_SCHEDULE_DELAY": "1000",
    }
    otlp = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{sink.port}",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
    }
    upstream = {"OTEL_PYTHON_DISTRO": "distro", "OTEL_PYTHON_CONFIGURATOR": "configurator"}
    ours = {
        "OTEL_PYTHON_DISTRO": "secretary",
        "OTEL_PYTHON_CONFIGURATOR": "secretary",
        "OTEL_SECRETARY_DATA_DIR": str(workdir / f"{arm}-data"),
        "OTEL_SECRETARY_PROMETHEUS_PORT": str(free_port()),
    }
    none = {"OTEL_TRACES_EXPORTER": "none", "OTEL_METRICS_EXPORTER": "none", "OTEL_LOGS_EXPORTER": "none"}
    extra = {
        "bare": {},
        "upstream-none": upstream | none,
        "upstream-otlp": upstream | otlp | {"OTEL_LOGS_EXPORTER": "otlp"},
        "ours-embedded": ours,
        "ours-otlp": ours | otlp,
        "before-embedded": ours,
        "before-otlp": ours | otlp,
        "logfire": {},
        "sentry": {},
    }[arm]
    env |= extra
    # Upstream's configurator only exports logs when this is on; ours and upstream both see one log line.
    if arm.startswith("upstream"):
        env["OTEL_PYTHON_LOGGING_AUTO_INSTRUMENTATION_ENABLED"] = "true"
    gunicorn = [
        str(venv_bin / "gunicorn"),
        "-w",
        "1",
        "--threads",
        "1",
        "-b",
        "127.0.0.1:{port}",
        "benchapp:app",
    ]
    command = (
        gunicorn
        if arm in ("bare", "logfire", "sentry")
        else [str(venv_bin / "opentelemetry-instrument"), *gunicorn]
    )
    return command, env


def cpu_seconds(pids: list[int]) -> float:
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime + stime
    return total / ticks


def children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except FileNotFoundError:
        return []


async def fetch(port: int, path: str) -> bool:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
    await writer.drain()
    data = await reader.read()
    writer.close()
    return data.startswith(b"HTTP/1.1 200") or data.startswith(b"HTTP/1.0 200")


async def open_loop(port: int, rate: float, seconds: float) -> tuple[list[float], int]:
    """Requests due every 1/rate s whatever the server does; latency counts from the due time."""
    latencies: list[float] = []
    failures = 0

    async def one(i: int, due: float) -> None:
        nonlocal failures
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        ok = await fetch(port, f"/api/v1/notes/{i % 500}")
        latencies.append(time.perf_counter() - due)
        failures += 0 if ok else 1

    start = time.perf_counter() + 0.05
    count = int(rate * seconds)
    await asyncio.gather(*(one(i, start + i / rate) for i in range(count)))
    return latencies, failures


async def closed_loop(port: int, seconds: float, concurrency: int = 8) -> float:
    done = 0
    stop = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal done
        while time.perf_counter() < stop:
            await fetch(port, f"/api/v1/notes/{done % 500}")
            done += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return done / (time.perf_counter() - started)


@dataclass
class ArmResult:
    cpu_ms_per_request: float
    p50_ms: float
    p99_ms: float
    max_rps: float
    failures: int


def wait_until_serving(port: int, server: subprocess.Popen[bytes], seconds: float, failure: str) -> None:
    """Until ``/health`` answers 200; ``failure`` ends the run if the server exits or time runs out."""
    deadline = time.time() + seconds
    while True:
        try:
            if asyncio.run(fetch(port, "/health")):
                return
        except OSError:
            pass
        if time.time() > deadline or server.poll() is not None:
            raise SystemExit(failure)
        time.sleep(0.2)


def add_before_src_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--before-src",
        type=Path,
        help="a folder holding another version's otel_secretary package; adds before-embedded, before-otlp"
        " (e.g. git archive <rev> otel_secretary | tar -x -C DIR)",
    )


def check_before_src(parser: argparse.ArgumentParser, before_src: Path | None) -> None:
    """A wrong folder would silently measure the installed package twice, under two names."""
    if before_src is not None and not (before_src / "otel_secretary" / "__init__.py").is_file():
        parser.error(f"--before-src {before_src}: no otel_secretary/__init__.py in it")


def check_origin(arm: str, port: int, before_src: Path | None) -> None:
    """A ``before-*`` arm must run the --before-src package. Anything earlier on the server's path (the
    working directory gunicorn puts first, an editable install's finder) would silently measure the
    installed package twice, under two names: refuse instead."""
    if not (arm.startswith("before-") and before_src):
        return
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/origin", timeout=600) as response:
        origin = response.read().decode()
    if not Path(origin).resolve().is_relative_to(before_src.resolve()):
        raise SystemExit(f"{arm}: the server imported {origin}, not the package in --before-src {before_src}")


def run_arm(
    arm: str, workdir: Path, sink: Sink, rate: float, seconds: float, before_src: Path | None = None
) -> ArmResult:
    port = free_port()
    command, env = arm_env(arm, workdir, sink, before_src)
    command = [part.replace("{port}", str(port)) for part in command]
    server = subprocess.Popen(
        command,
        env=env,
        cwd=workdir,  # gunicorn puts its working directory first on the path: never the caller's checkout
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_until_serving(port, server, 60, f"{arm}: server did not start ({' '.join(command)})")
        check_origin(arm, port, before_src)
        asyncio.run(open_loop(port, rate, 3))  # warm-up: imports, first batches, JIT-less caches
        time.sleep(1.5)  # the warm-up's batches are exported before the window opens
        pids = [server.pid, *children(server.pid)]
        before = cpu_seconds(pids)
        latencies, failures = asyncio.run(open_loop(port, rate, seconds))
        time.sleep(1.5)  # let the export thread finish the batches these requests produced
        cpu = cpu_seconds(pids) - before
        max_rps = asyncio.run(closed_loop(port, 5))
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
    latencies.sort()
    return ArmResult(
        cpu_ms_per_request=cpu / len(latencies) * 1000,
        p50_ms=latencies[len(latencies) // 2] * 1000,
        p99_ms=latencies[int(len(latencies) * 0.99) - 1] * 1000,
        max_rps=max_rps,
        failures=failures,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description="Server CPU and tail latency under open-loop load")
    parser.add_argument("--rate", type=float, default=100.0, help="requests per second (open loop)")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each measured phase")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--with-optional", action="store_true", help="also run the Logfire and Sentry arms")
    parser.add_argument("--arms", help="comma-separated subset of arms")
    add_before_src_argument(parser)
    args = parser.parse_args()
    check_before_src(parser, args.before_src)
    arms = list(REQUIRED + (OPTIONAL if args.with_optional else ()))
    if args.before_src:
        arms += ["before-embedded", "before-otlp"]
    if args.arms:
        arms = [a for a in args.arms.split(",") if a]
    if shutil.which("gunicorn", path=str(Path(sys.executable).parent)) is None:
        raise SystemExit("gunicorn is not installed in this venv (pip install -e '.[example]')")
    sink = Sink()
    results: dict[str, list[ArmResult]] = {arm: [] for arm in arms}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        (workdir / "benchapp.py").write_text(APP)
        for _ in range(args.rounds):
            for arm in arms:
                results[arm].append(run_arm(arm, workdir, sink, args.rate, args.seconds, args.before_src))
    base = statistics.median(r.cpu_ms_per_request for r in results["bare"]) if "bare" in results else None
    upstream_added = upstream_p99 = None
    if "upstream-otlp" in results:
        upstream_p99 = statistics.median(r.p99_ms for r in results["upstream-otlp"])
        if base is not None:
            upstream_added = statistics.median(r.cpu_ms_per_request for r in results["upstream-otlp"]) - base
    header = f"{'arm':<16}{'CPU ms/req':>11}{'vs bare':>9}{'added/upstream':>16}"
    header += f"{'p50 ms':>9}{'p99 ms':>9}{'p99/upstream':>14}{'max req/s':>11}"
    print(header)
    for arm in arms:
        rows = results[arm]
        cpu = statistics.median(r.cpu_ms_per_request for r in rows)
        vs_bare = f"{(cpu / base - 1) * 100:+.0f}%" if base else "-"
        added = f"{(cpu - base) / upstream_added:.2f}" if base is not None and upstream_added else "-"
        p50 = statistics.median(r.p50_ms for r in rows)
        p99 = statistics.median(r.p99_ms for r in rows)
        rps = statistics.median(r.max_rps for r in rows)
        failures = sum(r.failures for r in rows)
        note = f"  ({failures} failed)" if failures else ""
        p99_ratio = f"{p99 / upstream_p99:.2f}" if upstream_p99 else "-"
        print(
            f"{arm:<16}{cpu:>11.3f}{vs_bare:>9}{added:>16}{p50:>9.2f}{p99:>9.2f}{p99_ratio:>14}{rps:>11.0f}{note}"
        )
    print("CPU ms/req per round (spread: one round can be hit by the machine's other work):")
    for arm in arms:
        print(f"  {arm:<16}" + " ".join(f"{r.cpu_ms_per_request:.3f}" for r in results[arm]))
    python = sys.version.split()[0]
    load = os.getloadavg()[0]
    print(
        f"(open loop {args.rate:.0f} req/s x {args.seconds:.0f} s, {args.rounds} interleaved rounds;"
        f" Python {python}; {os.cpu_count()} CPUs, load average {load:.1f} at the end)"
    )


if __name__ == "__main__":
    main()
