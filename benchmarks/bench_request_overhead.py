"""What a Flask request costs with otel-secretary, against the same app bare, measured in one run.

Each variant runs in its own subprocess (OpenTelemetry's globals can be set once per process), and the
variants are interleaved round by round so machine noise hits all of them alike. A request is a direct
WSGI call with a prebuilt environ, so the figure is the framework + instrumentation cost, not a client's.

Variants:
  bare          Flask, no OpenTelemetry at all (the baseline)
  hooks-only    instrumented, every exporter "none": the cost of the hooks and the span/metric SDK
  embedded      the embedded default: masking + batch processor + JSON-lines file + /metrics reader
  embedded-pii  the same, with an e-mail and a token in the query string (the masker does real work)

Run: ``.venv/bin/python benchmarks/bench_request_overhead.py [--requests 2000] [--rounds 5]``
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

CHILD = textwrap.dedent(
    """
    import json, os, sys, time
    variant, requests = sys.argv[1], int(sys.argv[2])
    if variant != "bare":
        import otel_secretary
        handle = otel_secretary.configure()
        from opentelemetry.instrumentation.flask import FlaskInstrumentor
        FlaskInstrumentor().instrument()
    from flask import Flask, jsonify
    from werkzeug.test import EnvironBuilder
    app = Flask("bench")

    @app.get("/api/v1/messages/<int:message_id>")
    def message(message_id):
        return jsonify(id=message_id, status="summarised")

    query = "contact=jane.doe@example.com&token=s3cr3t-t0ken-value" if variant == "embedded-pii" else "page=2"
    environ = EnvironBuilder(path="/api/v1/messages/42", query_string=query).get_environ()

    def start_response(status, headers, exc_info=None):
        return None

    def one():
        body = app.wsgi_app(dict(environ), start_response)
        for _ in body:
            pass
        getattr(body, "close", lambda: None)()

    for _ in range(300):
        one()
    started = time.perf_counter()
    for _ in range(requests):
        one()
    elapsed = time.perf_counter() - started
    import resource
    rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"us_per_request": elapsed / requests * 1e6, "max_rss_kb": rss_kb}))
    """
)
VARIANTS = ("bare", "hooks-only", "embedded", "embedded-pii")


def run_variant(variant: str, requests: int, workdir: Path) -> dict[str, float]:
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(Path(__file__).resolve().parents[1]),
        "OTEL_SERVICE_NAME": "bench",
        "OTEL_SECRETARY_DATA_DIR": str(workdir / variant),
        "OTEL_SECRETARY_PROMETHEUS_PORT": "0",
        "OTEL_SECRETARY_RULES_ENABLED": "false",
    }
    if variant == "hooks-only":
        env |= {"OTEL_TRACES_EXPORTER": "none", "OTEL_METRICS_EXPORTER": "none", "OTEL_LOGS_EXPORTER": "none"}
    out = subprocess.run(
        [sys.executable, "-c", CHILD, variant, str(requests)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise SystemExit(f"{variant} failed:\n{out.stderr[-2000:]}")
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description="Flask request overhead of otel-secretary vs bare Flask")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    results: dict[str, list[dict[str, float]]] = {v: [] for v in VARIANTS}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.rounds):
            for variant in VARIANTS:
                results[variant].append(run_variant(variant, args.requests, Path(tmp)))
    base = statistics.median(r["us_per_request"] for r in results["bare"])
    print(f"{'variant':<14}{'median µs/req':>15}{'min':>9}{'Δ µs':>9}{'ratio':>8}{'max RSS MB':>12}")
    for variant in VARIANTS:
        times = [r["us_per_request"] for r in results[variant]]
        median = statistics.median(times)
        rss = max(r["max_rss_kb"] for r in results[variant]) / 1024
        row = f"{variant:<14}{median:>15.1f}{min(times):>9.1f}{median - base:>9.1f}{median / base:>8.2f}"
        print(f"{row}{rss:>12.1f}")
    python = sys.version.split()[0]
    print(f"({args.rounds} interleaved rounds x {args.requests} requests per variant; Python {python})")


if __name__ == "__main__":
    main()
