"""Pool processes that exit while the app keeps running lose no span (issue 11 item 3).

Celery ``--max-tasks-per-child=1``: billiard ends each child with ``os._exit()``, skipping the SDK's
``atexit`` flush (upstream contrib #4916); gunicorn ``--max-requests`` recycles its workers. Each test
counts the exported spans exactly, while the worker or server is still running: the spans must leave
with the child that made them, not with the final shutdown."""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.apps.celery_worker import run_celery_worker
from tests.support.otlp_json import JsonSpan, read_spans
from tests.support.processes import Proc, clean_env, free_port, venv_tool

pytestmark = pytest.mark.integration

APPS = Path(__file__).resolve().parents[1] / "apps"
SERVER, CONSUMER = 2, 5


def wait_spans(path: Path, done: Callable[[list[JsonSpan]], bool], timeout: float = 40) -> list[JsonSpan]:
    deadline = time.monotonic() + timeout
    spans: list[JsonSpan] = []
    while time.monotonic() < deadline:
        spans = read_spans(path)
        if done(spans):
            return spans
        time.sleep(0.2)
    return spans


def test_celery_max_tasks_per_child_exports_every_task_span(tmp_path: Path) -> None:
    tasks = 6
    with run_celery_worker(tmp_path, "--concurrency=2", "--max-tasks-per-child=1") as worker:
        results = [worker.client.send_task("celery_app.noop", args=[n]) for n in range(tasks)]
        assert sorted(r.get(timeout=60) for r in results) == list(range(tasks))
        path = worker.data / "traces.jsonl"

        def task_spans(spans: list[JsonSpan]) -> list[JsonSpan]:
            return [s for s in spans if s.kind == CONSUMER and "celery_app.noop" in s.name]

        spans = task_spans(wait_spans(path, lambda s: len(task_spans(s)) >= tasks))
        pids = {s.resource.get("process.pid") for s in spans}
        # Read again after a further child has come and gone: a duplicate would show up by now.
        assert worker.client.send_task("celery_app.noop", args=[99]).get(timeout=60) == 99
        spans = task_spans(wait_spans(path, lambda s: len(task_spans(s)) >= tasks + 1))
        console = worker.console()
    assert len(spans) == tasks + 1, (len(spans), console[-3000:])
    assert len({s.span_id for s in spans}) == tasks + 1
    assert len(pids) >= 2, "each task ran in a fresh child (max-tasks-per-child=1)"


@pytest.mark.parametrize("hook", [False, True], ids=["atexit", "worker_exit-hook"])
def test_gunicorn_max_requests_recycling_exports_every_request_span(tmp_path: Path, hook: bool) -> None:
    """Without a config file (the SDK's exit path, bounded by ours) and with our optional hook."""
    port = free_port()
    env = clean_env(
        OTEL_SERVICE_NAME="flaskr",
        OTEL_SECRETARY_PROMETHEUS_PORT=str(free_port()),
        FLASKR_DATABASE=str(tmp_path / "flaskr.sqlite"),
    )
    env["PYTHONPATH"] = str(APPS)
    argv = [
        venv_tool("opentelemetry-instrument"),
        venv_tool("gunicorn"),
        "-w",
        "1",
        "--max-requests",
        "3",
        "-b",
        f"127.0.0.1:{port}",
        "flaskr_app:create_app()",
    ]
    if hook:
        config = tmp_path / "gunicorn.conf.py"
        config.write_text("from otel_secretary.gunicorn import worker_exit  # noqa: F401\n")
        argv[2:2] = ["-c", str(config)]
    proc = Proc("gunicorn-recycling", argv, env, tmp_path, cwd=tmp_path)
    requests = 12
    try:
        base = f"http://127.0.0.1:{port}"
        proc.wait_http(base + "/", 60)
        served = 1  # the readiness probe above
        while served < requests:
            try:
                with urllib.request.urlopen(f"{base}/?n={served}", timeout=10) as response:
                    assert response.status == 200
                served += 1
            except OSError:  # between a recycled worker's exit and its successor's boot
                time.sleep(0.05)
        path = tmp_path / ".otel-secretary" / "traces.jsonl"

        def server_spans(spans: list[JsonSpan]) -> list[JsonSpan]:
            return [s for s in spans if s.kind == SERVER]

        spans = server_spans(wait_spans(path, lambda s: len(server_spans(s)) >= served))
        console = proc.log.read_text(errors="replace")
    finally:
        proc.stop()
    # The last worker may not have reached max_requests yet; its spans leave on the batch schedule
    # (5 s) which wait_spans allows for. Every recycled worker's spans were flushed as it left.
    assert console.count("Autorestarting worker after current request") >= 3, console[-2000:]
    assert len(spans) == served, (len(spans), served)
    assert len({s.span_id for s in spans}) == served
