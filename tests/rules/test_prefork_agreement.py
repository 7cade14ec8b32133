"""Issue 12 item 2: a 4-worker gunicorn app and a 1-worker one, under the same traffic, fire and resolve
at the same evaluations (1-second buckets), and each sends one trigger and one resolve.

The rule's traffic guard (min_rate 8/s) is above a quarter of the traffic (about 5/s per worker): an
engine that evaluated one worker's share could never fire; the elected evaluator sees the whole service.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from otel_secretary.testing.receivers import HttpReceiver
from tests.support.polling import wait_for

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
SPEC = """
rules:
  - name: Checkout
    kind: error_rate
    threshold: 0.5
    window: 3s
    min_rate: 8
    by: [service_name]
    selector: {service: shop, span_kind: server}
    annotations: {summary: "checkout failing", runbook_url: docs/runbooks/error-rate.md}
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def _gunicorn(tmp_path: Path, workers: int, receiver: HttpReceiver) -> Iterator[str]:
    folder = tmp_path / f"w{workers}"
    folder.mkdir()
    (folder / "spec.yaml").write_text(SPEC, encoding="utf-8")
    (folder / "notify.yaml").write_text(
        f'channels:\n  - {{name: hook, type: webhook, url: "{receiver.url}", secret: s3cret-for-tests}}\n'
    )
    port = _free_port()
    env = {
        **os.environ,
        "PREFORK_SPECS": str(folder / "spec.yaml"),
        "PREFORK_DATA": str(folder / "data"),
        "PREFORK_NOTIFY": str(folder / "notify.yaml"),
        "PYTHONPATH": str(REPO),
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--preload",
            "-w",
            str(workers),
            "-b",
            f"127.0.0.1:{port}",
            "tests.rules.prefork_app:app",
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(folder / "gunicorn.log", "w"),  # noqa: SIM115
    )
    url = f"http://127.0.0.1:{port}"
    try:
        assert wait_for(lambda: _up(url), 30), (folder / "gunicorn.log").read_text()[-2000:]
        yield url
    finally:
        process.terminate()
        process.wait(20)


def _up(url: str) -> bool:
    try:
        return httpx.get(url + "/ok", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _drive(urls: list[str], path: str, seconds: float, pids: dict[str, set[str]]) -> None:
    """About 20 requests a second to every app, four at a time (so the workers share them)."""
    deadline = time.monotonic() + seconds
    with ThreadPoolExecutor(8) as pool, httpx.Client(timeout=5) as client:
        while time.monotonic() < deadline:
            started = time.monotonic()
            calls = [(url, path) for url in urls for _ in range(4)]
            for url, text in zip(calls, pool.map(lambda c: client.get(c[0] + c[1]).text, calls), strict=True):
                pids.setdefault(url[0], set()).add(text.strip())
            time.sleep(max(0.0, 0.2 - (time.monotonic() - started)))


def _seconds(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def test_four_workers_and_one_worker_fire_and_resolve_at_the_same_evaluations(tmp_path: Path) -> None:
    with HttpReceiver() as four_hook, HttpReceiver() as one_hook:
        with _gunicorn(tmp_path, 4, four_hook) as four, _gunicorn(tmp_path, 1, one_hook) as one:
            pids: dict[str, set[str]] = {}
            _drive([four, one], "/ok", 4, pids)
            _drive([four, one], "/fail", 8, pids)
            _drive([four, one], "/ok", 8, pids)
            assert wait_for(lambda: len(four_hook.requests) >= 2 and len(one_hook.requests) >= 2, 15)
            time.sleep(2)
        assert len(pids[four]) >= 2, f"the 4-worker app served from one worker only: {pids[four]}"
        runs = {}
        for name, hook in (("four", four_hook), ("one", one_hook)):
            bodies = hook.bodies()
            assert [b["kind"] for b in bodies] == ["trigger", "resolve"], (name, bodies)
            alert = bodies[1]["alerts"][0]
            runs[name] = (_seconds(alert["startsAt"]), _seconds(alert["endsAt"]))
    # The same evaluations, within one 1-second bucket (a worker's count written just after the
    # evaluator read can defer a decision by one evaluation; at the default 60 s interval the evaluator
    # waits 2 s for the workers' counts).
    assert abs(runs["four"][0] - runs["one"][0]) <= 1.0, runs
    assert abs(runs["four"][1] - runs["one"][1]) <= 1.0, runs
