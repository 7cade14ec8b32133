"""SIGTERM and SIGINT flush what was finished before the signal (issue 16 item 4).

Real processes under ``opentelemetry-instrument`` with the SDK's default 5 s batch delay, so without a
flush on the signal the last seconds of spans would be lost. Load runs while the signal is sent. Every
request the server had finished before the signal (its access-log line was on the console when we
sent it, and Flask's request span ends before that line is written) must be among the exported spans;
no span is exported twice; the process ends as it would without us (death by SIGTERM, exit after
KeyboardInterrupt)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from tests.apps.celery_worker import run_celery_worker
from tests.support.otlp_json import JsonSpan, read_spans
from tests.support.processes import Proc, clean_env, free_port, venv_tool

pytestmark = pytest.mark.integration

APPS = Path(__file__).resolve().parents[1] / "apps"
SERVER, CONSUMER = 2, 5
LOADERS = 3


def app_env(tmp: Path) -> dict[str, str]:
    env = clean_env(
        OTEL_SERVICE_NAME="flaskr",
        OTEL_SECRETARY_PROMETHEUS_PORT=str(free_port()),
        FLASKR_DATABASE=str(tmp / "flaskr.sqlite"),
    )
    env["PYTHONPATH"] = str(APPS)
    return env


class Load:
    """``LOADERS`` threads sending ``GET /?n=<unique>`` back to back until stopped."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.stop = threading.Event()
        self._next = iter(range(1_000_000))
        self._lock = threading.Lock()
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(LOADERS)]
        for thread in self.threads:
            thread.start()

    def _run(self) -> None:
        while not self.stop.is_set():
            with self._lock:
                n = next(self._next)
            try:
                with urllib.request.urlopen(f"{self.base}/?n={n}", timeout=5) as response:
                    response.read()
            except OSError:
                time.sleep(0.01)

    def finish(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(10)


def served_numbers(console: str) -> set[int]:
    return {int(n) for n in re.findall(r'"GET /\?n=(\d+) HTTP/1\.[01]" 200', console)}


def exported_numbers(spans: list[JsonSpan]) -> list[int]:
    found = []
    for span in spans:
        if span.kind != SERVER:
            continue
        query = str(span.attributes.get("url.query") or span.attributes.get("http.target") or "")
        match = re.search(r"n=(\d+)", query)
        if match:
            found.append(int(match.group(1)))
    return found


def signal_under_load(proc: Proc, base: str, signum: int, target_pid: int | None = None) -> set[int]:
    """Load until at least 30 requests were served, signal, return the requests served before it."""
    load = Load(base)
    try:
        deadline = time.monotonic() + 60
        while len(served_numbers(proc.log.read_text(errors="replace"))) < 30:
            assert time.monotonic() < deadline, proc.tail()
            time.sleep(0.05)
        before = served_numbers(proc.log.read_text(errors="replace"))
        os.kill(target_pid or proc.popen.pid, signum)
        try:
            proc.popen.wait(30)
        except subprocess.TimeoutExpired:
            pytest.fail(f"{proc.name} did not stop within 30 s of signal {signum}:\n{proc.tail()}")
    finally:
        load.finish()
    return before


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_flask_run_flushes_on_the_signal(tmp_path: Path, signum: int) -> None:
    port = free_port()
    argv = [
        venv_tool("opentelemetry-instrument"),
        venv_tool("flask"),
        "--app",
        "flaskr_app",
        "run",
        "--port",
        str(port),
        "--no-reload",
    ]
    proc = Proc(f"flask-{signum}", argv, app_env(tmp_path), tmp_path, cwd=tmp_path)
    try:
        proc.wait_http(f"http://127.0.0.1:{port}/", 60)
        before = signal_under_load(proc, f"http://127.0.0.1:{port}", signum)
    finally:
        proc.stop()
    exported = exported_numbers(read_spans(tmp_path / ".otel-secretary" / "traces.jsonl"))
    assert before <= set(exported), f"lost: {sorted(before - set(exported))[:20]} of {len(before)}"
    assert len(exported) == len(set(exported)), "a span was exported twice"
    if signum == signal.SIGTERM:
        assert proc.popen.returncode == -signal.SIGTERM, "the process still dies of SIGTERM"


def test_gunicorn_flushes_every_worker_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    argv = [
        venv_tool("opentelemetry-instrument"),
        venv_tool("gunicorn"),
        "-w",
        "2",
        # Past the test's own 30 s: a worker that hangs on its way out (a lock a parent thread held at
        # fork) fails the test instead of racing the master's SIGKILL at the default 30 s.
        "--graceful-timeout",
        "60",
        "--access-logfile",
        "-",
        "-b",
        f"127.0.0.1:{port}",
        "flaskr_app:create_app()",
    ]
    proc = Proc("gunicorn-sigterm", argv, app_env(tmp_path), tmp_path, cwd=tmp_path)
    try:
        proc.wait_http(f"http://127.0.0.1:{port}/", 60)
        before = signal_under_load(proc, f"http://127.0.0.1:{port}", signal.SIGTERM)
    finally:
        proc.stop()
    spans = read_spans(tmp_path / ".otel-secretary" / "traces.jsonl")
    exported = exported_numbers(spans)
    assert before <= set(exported), f"lost: {sorted(before - set(exported))[:20]} of {len(before)}"
    assert len(exported) == len(set(exported))
    assert len({s.resource.get("process.pid") for s in spans if s.kind == SERVER}) == 2


def test_celery_worker_flushes_on_sigterm(tmp_path: Path) -> None:
    from celery import Celery

    with run_celery_worker(tmp_path, "--concurrency=2") as worker:
        # Sent without a result backend: tasks that never run must leave no result subscription behind.
        sender = Celery("sender", broker=worker.client.conf.broker_url)
        ids = [sender.send_task("celery_app.noop", args=[n]).id for n in range(40)]
        time.sleep(0.5)  # some done, some queued or running when the signal comes
        os.kill(worker.proc.popen.pid, signal.SIGTERM)  # Celery's documented warm shutdown
        worker.proc.popen.wait(60)
        backend = worker.client.backend
        done = sum(1 for i in ids if backend.get_task_meta(i)["status"] == "SUCCESS")
        sender.close()
    spans = [
        s
        for s in read_spans(tmp_path / ".otel-secretary" / "traces.jsonl")
        if s.kind == CONSUMER and "celery_app.noop" in s.name
    ]
    assert done > 0
    # Warm shutdown lets running tasks finish; each finished task's span left before its child did.
    assert len(spans) == done, (len(spans), done)


def test_a_celery_pool_child_flushes_on_its_own_sigterm(tmp_path: Path) -> None:
    """SIGTERM straight to a pool child (a process-group kill, systemd's default): the child's finished
    task spans leave before it dies. The batch delay is set far beyond the test so that only a flush
    can export them."""
    import psutil

    with run_celery_worker(tmp_path, "--concurrency=1", OTEL_BSP_SCHEDULE_DELAY="600000") as worker:
        results = [worker.client.send_task("celery_app.noop", args=[n]) for n in range(4)]
        assert [r.get(timeout=60) for r in results] == [0, 1, 2, 3]
        (child,) = psutil.Process(worker.proc.popen.pid).children()
        os.kill(child.pid, signal.SIGTERM)
        child.wait(30)
        path = tmp_path / ".otel-secretary" / "traces.jsonl"
        deadline = time.monotonic() + 30
        spans: list[JsonSpan] = []
        while time.monotonic() < deadline and len(spans) < 4:
            spans = [s for s in read_spans(path) if s.kind == CONSUMER and "celery_app.noop" in s.name]
            time.sleep(0.2)
        assert worker.proc.popen.poll() is None, "the worker itself runs on (it replaces the child)"
    assert len(spans) == 4, len(spans)
    assert {s.resource.get("process.pid") for s in spans} == {child.pid}
