"""Real subprocesses for tests and the example runner: started with a log file, awaited, always stopped.

A failing start shows the tail of the process's log in the assertion message, because a test that
says only "timed out" costs the next person an hour. Nothing here knows about this repository's
checkout: callers that need one (our tests, the example runner) pass ``cwd`` and ``pythonpath``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

VENV_BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def venv_tool(name: str) -> str:
    """A console script of this interpreter's environment (opentelemetry-instrument, celery, gunicorn …)."""
    candidate = VENV_BIN / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    assert found, f"{name} not found next to {sys.executable} or on PATH"
    return found


def stripe_mock_binary() -> Path | None:
    """stripe-mock, if built: env STRIPE_MOCK_BIN, the CI build, PATH, then ``go install``'s default."""
    candidates = [
        os.environ.get("STRIPE_MOCK_BIN", ""),
        str(Path.home() / ".cache/otel-secretary/bin/stripe-mock"),
        shutil.which("stripe-mock") or "",
        str(Path.home() / "go/bin/stripe-mock"),
    ]
    return next((Path(c) for c in candidates if c and Path(c).is_file()), None)


class Proc:
    """A started subprocess whose stdout+stderr go to ``log``; it runs in ``cwd`` (default: ours)."""

    def __init__(
        self, name: str, argv: Sequence[str], env: Mapping[str, str], log_dir: Path, cwd: Path | None = None
    ):
        self.name = name
        self.log = log_dir / f"{name}.log"
        self._log_file = self.log.open("wb")
        self.popen = subprocess.Popen(
            list(argv),
            env=dict(env),
            cwd=cwd,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )

    def tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"

    def wait_until(self, ready: Callable[[], bool], timeout: float = 30.0, what: str = "ready") -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise AssertionError(
                    f"{self.name} exited ({self.popen.returncode}) before {what}:\n{self.tail()}"
                )
            try:
                if ready():
                    return
            except Exception:
                pass
            time.sleep(0.1)
        raise AssertionError(f"{self.name} not {what} after {timeout}s:\n{self.tail()}")

    def wait_http(self, url: str, timeout: float = 30.0) -> None:
        def ok() -> bool:
            with urllib.request.urlopen(url, timeout=2) as response:
                return bool(response.status < 500)

        self.wait_until(ok, timeout, what=f"answering {url}")

    def wait_log(self, text: str, timeout: float = 30.0) -> None:
        self.wait_until(
            lambda: text in self.log.read_text(errors="replace"), timeout, what=f"logging {text!r}"
        )

    def stop(self, timeout: float = 15.0) -> int:
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(5)
        self._log_file.close()
        return self.popen.returncode


def start_redis(log_dir: Path) -> tuple[Proc, str]:
    port = free_port()
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    proc = Proc(
        "redis",
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        os.environ,
        log_dir,
    )

    def pong() -> bool:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")

    proc.wait_until(pong, 15, what="answering PING")
    return proc, f"redis://127.0.0.1:{port}/0"


def clean_env(*, pythonpath: Path | None = None, **extra: str) -> dict[str, str]:
    """The environment for an instrumented child: ours only, no OTEL_* leaking from the developer's shell.

    ``pythonpath`` replaces PYTHONPATH (our tests pass the checkout, so children import ``tests.apps``).
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "AI_SECRETARY_", "SENTRY_"))}
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    env["PYTHONUNBUFFERED"] = "1"
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env.update(extra)
    return env
