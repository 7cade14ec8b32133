"""Memory and latency with the collector down: the app must run on, with bounded memory.

A child process configures otel-secretary with an OTLP endpoint where nothing listens, then makes
spans as fast as it can; RSS is sampled as the span count grows. The same loop with the collector
"up" (a loopback sink that accepts everything) is the baseline from the same run. Bounded means the
RSS curve flattens once the batch queue (OTEL_SECRETARY_MAX_QUEUE_SIZE) is full, instead of growing
with the number of spans.

Run: ``.venv/bin/python benchmarks/bench_exporter_down.py [--spans 60000]``
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import textwrap
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

CHILD = textwrap.dedent(
    """
    import json, resource, sys, time
    import otel_secretary
    from opentelemetry import trace
    total = int(sys.argv[1])
    handle = otel_secretary.configure()
    tracer = trace.get_tracer("bench")
    samples = []
    started = time.perf_counter()
    for i in range(1, total + 1):
        with tracer.start_as_current_span("work") as span:
            span.set_attribute("app.i", i)
            span.set_attribute("note", "a request note that is long enough to cost some bytes " * 2)
        if i % (total // 6) == 0:
            samples.append((i, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024))
    elapsed = time.perf_counter() - started
    print(json.dumps({"samples": samples, "us_per_span": elapsed / total * 1e6}))
    """
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Sink(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def run(endpoint: str, spans: int) -> dict[str, object]:
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(Path(__file__).resolve().parents[1]),
        "OTEL_SERVICE_NAME": "bench",
        "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
        "OTEL_EXPORTER_OTLP_TIMEOUT": "1",
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_LOGS_EXPORTER": "none",
    }
    out = subprocess.run([sys.executable, "-c", CHILD, str(spans)], env=env, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(out.stderr[-2000:])
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description="RSS and span cost with the collector down vs up")
    parser.add_argument("--spans", type=int, default=60000)
    args = parser.parse_args()
    sink = ThreadingHTTPServer(("127.0.0.1", 0), _Sink)
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    up = run(f"http://127.0.0.1:{sink.server_address[1]}", args.spans)
    down = run(f"http://127.0.0.1:{free_port()}", args.spans)
    sink.shutdown()
    print(f"{'spans made':>11}{'RSS MB, collector up':>24}{'RSS MB, collector down':>26}")
    for (count, rss_up), (_, rss_down) in zip(up["samples"], down["samples"], strict=True):  # type: ignore[call-overload]
        print(f"{count:>11}{rss_up:>24}{rss_down:>26}")
    print(f"µs per span: up {up['us_per_span']:.1f}, down {down['us_per_span']:.1f}")


if __name__ == "__main__":
    main()
