"""Runs the fault driver (tests/support/fault_driver.py) as a real process and reads what it reports.

Shared by the foundation disk-fault tests and the end-to-end export-fault tests: the driver's counters
(``otel_secretary_telemetry_dropped_total`` on its own /metrics) and its one-line stderr notes.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from tests.support.processes import REPO, clean_env, free_port

SPANS, BATCH = 200, 10
DRIVER = REPO / "tests" / "support" / "fault_driver.py"


def run_fault_driver(
    *, spans: int = SPANS, batch: int = BATCH, timeout: float = 120, **env: str
) -> tuple[subprocess.CompletedProcess[str], float]:
    """Run the driver to its end (it must exit 0); ``env`` adds to or overrides its settings."""
    settings = {
        "OTEL_SERVICE_NAME": "fault-driver",
        "OTEL_SECRETARY_PROMETHEUS_PORT": str(free_port()),
        "OTEL_SECRETARY_RULES_ENABLED": "false",
        "FAULT_SPANS": str(spans),
        "FAULT_BATCH": str(batch),
    } | env
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, str(DRIVER)],
        env=clean_env(**settings),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done, time.monotonic() - started


def run_driver(data_dir: Path, **env: str) -> tuple[subprocess.CompletedProcess[str], float]:
    """The embedded default writing into ``data_dir``."""
    return run_fault_driver(OTEL_SECRETARY_DATA_DIR=str(data_dir), **env)


def dropped(metrics: str, signal: str, reason: str) -> float:
    """The counter's value. Each force_flush leaves one more snapshot in the Prometheus reader's queue
    and a scrape prints them all, oldest first; a counter's latest value is its largest."""
    values = [
        float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith("otel_secretary_telemetry_dropped_total{")
        and f'signal="{signal}"' in line
        and f'reason="{reason}"' in line
    ]
    return max(values, default=0.0)


def notes(stderr: str, signal: str, reason: str) -> list[str]:
    return [line for line in stderr.splitlines() if f"otel-secretary: {signal} dropped ({reason})" in line]


def assert_said_once_per_minute(stderr: str, signal: str, reason: str, elapsed: float) -> None:
    said = notes(stderr, signal, reason)
    assert 1 <= len(said) <= 1 + int(elapsed // 60), said
    assert "Traceback" not in stderr, stderr[-3000:]
