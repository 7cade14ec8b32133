"""Runs the example AI secretary for real: local API stand-ins, Redis, the Flask app and a Celery worker,
each Flask/Celery process under the real ``opentelemetry-instrument`` launcher.

Used by the foundation tests (embedded default) and the end-to-end tests (OTLP to the stack's
collector): pass ``otel_env`` to choose where telemetry goes.
"""

from __future__ import annotations

import json
import os
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from otel_secretary.testing.local_services import calendar_api, openai_api, stripe_errors
from otel_secretary.testing.processes import (
    Proc,
    clean_env,
    free_port,
    start_redis,
    stripe_mock_binary,
    venv_tool,
)

#: The checkout: every process runs there, with it on PYTHONPATH, so ``examples.ai_secretary`` imports.
REPO = Path(__file__).resolve().parents[2]


@dataclass
class RunningExample:
    base_url: str
    data_dir: Path
    log_dir: Path
    app: Proc
    worker: Proc | None
    metrics_port: int
    services: dict[str, Any] = field(default_factory=dict)

    def request(
        self, method: str, path: str, body: Any = None, headers: Mapping[str, str] | None = None
    ) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base_url + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        for key, value in (headers or {}).items():
            req.add_header(key, value)
        try:
            with urllib.request.urlopen(req, timeout=30) as response:
                raw = response.read()
                status = response.status
        except urllib.error.HTTPError as err:
            raw, status = err.read(), err.code
        try:
            return status, json.loads(raw)
        except ValueError:
            return status, raw.decode(errors="replace")


@contextmanager
def run_example(
    tmp: Path,
    otel_env: Mapping[str, str] | None = None,
    *,
    with_worker: bool = True,
    server: str = "flask",
    workers: int = 1,
    use_stripe_mock: bool = True,
    redis_url: str | None = None,
) -> Iterator[RunningExample]:
    """Start everything; on exit stop the processes and the stand-ins.

    Each process group gets SIGTERM (``Proc.stop``). What that guarantees (docs/logging-and-shutdown.md):
    ``flask run`` flushes everything finished before the signal, within 5 s, then dies of SIGTERM;
    gunicorn and the Celery worker stop gracefully and each worker or pool child flushes within 5 s as
    it exits. Work still running when the signal arrives (an unfinished request or task) is not
    guaranteed, and after ``Proc.stop``'s 15 s a process is killed, losing whatever it still held."""
    log_dir = tmp / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    data_dir = tmp / "telemetry"
    with ExitStack() as stack:
        openai_service = stack.enter_context(openai_api.start())
        calendar_service = stack.enter_context(calendar_api.start())
        stripe_url: str
        mock = stripe_mock_binary() if use_stripe_mock else None
        if mock:
            http_port = free_port()
            stripe_proc = Proc(
                "stripe-mock",
                [
                    str(mock),
                    "-http-addr",
                    f"127.0.0.1:{http_port}",
                    "-https-addr",
                    f"127.0.0.1:{free_port()}",
                ],
                os.environ,
                log_dir,
                REPO,
            )
            stack.callback(stripe_proc.stop)
            stripe_url = f"http://127.0.0.1:{http_port}"
            stripe_proc.wait_until(lambda: _tcp_open(http_port), 20, what="listening")
        else:
            stripe_service = stack.enter_context(stripe_errors.start())
            stripe_url = stripe_service.url
        if redis_url is None:  # else an existing Redis (the e2e stack's collector watches that one)
            redis_proc, redis_url = start_redis(log_dir)
            stack.callback(redis_proc.stop)
        port, metrics_port = free_port(), free_port()
        env = clean_env(
            pythonpath=REPO,
            OTEL_SERVICE_NAME="ai-secretary",
            OTEL_SECRETARY_DATA_DIR=str(data_dir),
            OTEL_SECRETARY_PROMETHEUS_PORT=str(metrics_port),
            OTEL_BSP_SCHEDULE_DELAY="200",
            AI_SECRETARY_OPENAI_BASE_URL=openai_service.url + "/v1",
            AI_SECRETARY_CALENDAR_BASE_URL=calendar_service.url,
            AI_SECRETARY_STRIPE_BASE_URL=stripe_url,
            AI_SECRETARY_REDIS_URL=redis_url,
            AI_SECRETARY_DATABASE_URL=f"sqlite:///{tmp / 'ai_secretary.sqlite3'}",
            AI_SECRETARY_ALLOW_FAULTS="1",
            **dict(otel_env or {}),
        )
        instrument = venv_tool("opentelemetry-instrument")
        worker: Proc | None = None
        if with_worker:
            worker = Proc(
                "celery",
                [
                    instrument,
                    venv_tool("celery"),
                    "-A",
                    "examples.ai_secretary.tasks:celery_app",
                    "worker",
                    "--loglevel=INFO",
                    f"--concurrency={workers}",
                    "--pool=prefork",
                    "--without-gossip",
                    "--without-mingle",
                    "--without-heartbeat",
                ],
                env | {"OTEL_SECRETARY_PROMETHEUS_PORT": str(free_port())},
                log_dir,
                REPO,
            )
            stack.callback(worker.stop)
            worker.wait_log("ai-secretary worker ready", 60)
        if server == "gunicorn":
            argv = [
                instrument,
                venv_tool("gunicorn"),
                "-w",
                str(workers),
                "-b",
                f"127.0.0.1:{port}",
                "examples.ai_secretary.app:app",
            ]
        else:
            argv = instrumented_flask(port)
        app = Proc(server, argv, env, log_dir, REPO)
        stack.callback(app.stop)
        base = f"http://127.0.0.1:{port}"
        app.wait_http(base + "/health", 60)
        yield RunningExample(
            base,
            data_dir,
            log_dir,
            app,
            worker,
            metrics_port,
            {"openai": openai_service, "calendar": calendar_service, "stripe_url": stripe_url},
        )


def instrumented_flask(port: int) -> list[str]:
    """The product's promise, as a command: the unchanged app under ``opentelemetry-instrument``."""
    return [
        venv_tool("opentelemetry-instrument"),
        venv_tool("flask"),
        "--app",
        "examples.ai_secretary.app",
        "run",
        "--port",
        str(port),
        "--no-reload",
    ]


def _tcp_open(port: int) -> bool:
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=1):
        return True
