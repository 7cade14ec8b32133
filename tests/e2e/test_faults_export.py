"""A black-holed collector: it accepts connections and never answers.

The app must keep working, say ONE line on stderr per cause (not one per batch, not zero as before),
and count every lost span on its own /metrics: spans whose export timed out, and spans the full batch
queue refused while the exporter was stuck. Real process, real sockets; no stack needed."""

from __future__ import annotations

import json
import socket
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from tests.support.fault_runs import assert_said_once_per_minute, dropped, notes, run_fault_driver

pytestmark = pytest.mark.integration


@contextmanager
def black_hole() -> Iterator[int]:
    """A TCP server that accepts every connection, reads nothing and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield int(server.getsockname()[1])
    finally:
        stop.set()
        thread.join(2)
        for conn in held:
            conn.close()
        server.close()


def run(port: int, spans: int, batch: int, **env: str) -> tuple[subprocess.CompletedProcess[str], float]:
    return run_fault_driver(
        spans=spans,
        batch=batch,
        timeout=180,
        OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{port}",
        OTEL_EXPORTER_OTLP_TIMEOUT="1",
        OTEL_METRICS_EXPORTER="prometheus",  # the app's own /metrics, read below
        **env,
    )


def test_export_failures_are_said_once_and_counted() -> None:
    with black_hole() as port:
        done, elapsed = run(port, spans=30, batch=10)
    metrics = json.loads(done.stdout.splitlines()[-1])["metrics"]
    assert dropped(metrics, "spans", "export_failed") == 30
    # The driver's three warnings, and the exporters' own, all went to the same dead collector.
    assert dropped(metrics, "logs", "export_failed") >= 3
    assert_said_once_per_minute(done.stderr, "spans", "export_failed", elapsed)
    line = notes(done.stderr, "spans", "export_failed")[0]
    assert "OTLPSpanExporter could not deliver" in line, line


def test_a_stuck_exporter_fills_the_queue_and_every_span_is_accounted_for() -> None:
    spans = 200
    with black_hole() as port:
        done, elapsed = run(
            port,
            spans=spans,
            batch=spans,  # no flush until the end: the worker alone drains the queue
            OTEL_SECRETARY_MAX_QUEUE_SIZE="10",
            OTEL_BSP_MAX_EXPORT_BATCH_SIZE="5",
            OTEL_BLRP_MAX_EXPORT_BATCH_SIZE="5",  # the SDK refuses a batch larger than the queue
        )
    metrics = json.loads(done.stdout.splitlines()[-1])["metrics"]
    refused = dropped(metrics, "spans", "queue_full")
    failed = dropped(metrics, "spans", "export_failed")
    assert refused > 0 and failed > 0
    # Nothing lost silently. The SDK checks "queue full" and appends without a lock, so when its worker
    # pops in between, a drop is counted that did not happen: the sum may exceed, never fall short.
    assert spans <= refused + failed <= spans + 5, (refused, failed)
    assert_said_once_per_minute(done.stderr, "spans", "queue_full", elapsed)
