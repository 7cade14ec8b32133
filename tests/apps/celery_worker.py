"""Starts tests/apps/celery_app.py's worker under the real ``opentelemetry-instrument``, over a real
redis-server, with a real prefork pool; and a plain (uninstrumented) client to send it tasks."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.processes import Proc, clean_env, free_port, start_redis, venv_tool

APPS = Path(__file__).resolve().parent


@dataclass
class CeleryWorker:
    proc: Proc
    client: Any  # celery.Celery
    data: Path

    def console(self) -> str:
        return self.proc.log.read_text(errors="replace")


@contextmanager
def run_celery_worker(tmp: Path, *worker_args: str, **env_extra: str) -> Iterator[CeleryWorker]:
    from celery import Celery

    redis, url = start_redis(tmp)
    env = clean_env(
        OTEL_SERVICE_NAME="celery-app",
        OTEL_SECRETARY_PROMETHEUS_PORT=str(free_port()),
        CELERY_APP_BROKER=url,
        **env_extra,
    )
    env["PYTHONPATH"] = str(APPS)  # the app's own folder only
    argv = [
        venv_tool("opentelemetry-instrument"),
        venv_tool("celery"),
        "-A",
        "celery_app",
        "worker",
        "--loglevel=INFO",
        "--pool=prefork",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
        *worker_args,
    ]
    worker = Proc("celery-worker", argv, env, tmp, cwd=tmp)
    client = Celery("client", broker=url, backend=url)
    try:
        worker.wait_log("ready.", 60)
        yield CeleryWorker(worker, client, tmp / ".otel-secretary")
    finally:
        worker.stop(30)
        client.close()
        redis.stop()
