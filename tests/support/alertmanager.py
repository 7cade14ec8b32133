"""A real Alertmanager (Debian's binary) on a free loopback port, routing as our rendered config says.

The ``alerts`` CLI tests and the docs-command tests both talk to one; they differ only in where its
receivers point, so the start, the readiness wait (with the log's tail when it never gets ready) and the
stop live here once.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from otel_secretary.rules import render
from otel_secretary.stack.binaries import BinaryNotFound, find
from tests.support.polling import wait_for
from tests.support.processes import free_port


def alertmanager_binary() -> Path | None:
    """PATH, then /usr/bin (Debian installs it as prometheus-alertmanager)."""
    try:
        return find("alertmanager")
    except BinaryNotFound:
        return None


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/-/ready", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


@contextmanager
def running_alertmanager(
    folder: Path, options: render.AlertmanagerOptions, *, ready_within: float
) -> Iterator[str]:
    """Its URL; ``folder`` (existing) keeps its config, log and data. Skips where it is not installed."""
    binary = alertmanager_binary()
    if binary is None:
        pytest.skip("Alertmanager (apt: prometheus-alertmanager) not installed")
    (folder / "alertmanager.yml").write_text(render.dump(render.render_alertmanager(options)))
    port = free_port()
    with open(folder / "alertmanager.log", "w") as log:
        process = subprocess.Popen(
            [
                str(binary),
                "--config.file=alertmanager.yml",
                f"--web.listen-address=127.0.0.1:{port}",
                "--storage.path=data",
                "--cluster.listen-address=",
            ],
            cwd=folder,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        assert wait_for(lambda: _ready(url), ready_within), (folder / "alertmanager.log").read_text()[-2000:]
        yield url
    finally:
        process.terminate()
        process.wait(10)


def iso(ts: float) -> str:
    """A Unix time as Alertmanager's API writes it."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def post_alert(
    url: str,
    labels: dict[str, str],
    *,
    summary: str = "synthetic",
    lasting: float = 600,
    now: float | None = None,
) -> None:
    """Fire one alert through the API, as Prometheus would, active from ``now`` for ``lasting`` seconds."""
    start = time.time() if now is None else now
    alert = {
        "labels": labels,
        "annotations": {"summary": summary},
        "startsAt": iso(start),
        "endsAt": iso(start + lasting),
    }
    httpx.post(f"{url}/api/v2/alerts", json=[alert], timeout=5).raise_for_status()
