"""`Stack`: up/down/status/logs for the single-node pipeline, with everything in one state folder:

<state>/ports.json         which ports this stack uses (down/status/logs read it back)
<state>/config/*           the rendered configs
<state>/data/*             Prometheus TSDB, Alertmanager state
<state>/logs/<name>.log    each component's stdout+stderr
<state>/run/<name>.pid     what was started (pid + argv), so `down` stops only our processes
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

from otel_secretary.stack import binaries, process
from otel_secretary.stack.components import COMPONENTS, Component
from otel_secretary.stack.ports import StackPorts
from otel_secretary.stack.render import StackOptions, private_dir, render


class StackError(RuntimeError):
    """The stack could not be brought up; the message names the component and quotes its log."""


@dataclass(frozen=True)
class ComponentStatus:
    name: str
    running: bool
    pid: int | None
    rss_bytes: int | None
    endpoints: dict[str, str]
    log: Path


def _quiet(_: str) -> None:
    return None


class Stack:
    def __init__(
        self,
        state_dir: Path | str,
        ports: StackPorts | None = None,
        *,
        options: StackOptions | None = None,
        config_dir: Path | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.state_dir = Path(state_dir).resolve()
        ports_file = self.state_dir / "ports.json"
        if ports is None:
            ports = StackPorts.load(ports_file) if ports_file.is_file() else StackPorts()
        self.ports = ports
        self.options = options or StackOptions()
        self.config_dir = (config_dir or binaries.repo_root() / "collector-config").resolve()
        self.env = dict(os.environ if env is None else env)
        self._popens: dict[str, subprocess.Popen[bytes]] = {}

    # Where things are -------------------------------------------------------------------------------
    @property
    def jaeger_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.jaeger_ui}"

    @property
    def prometheus_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.prometheus}"

    @property
    def alertmanager_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.alertmanager}"

    @property
    def otlp_http_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.ports.otlp_http}"

    @property
    def otlp_grpc_endpoint(self) -> str:
        return f"127.0.0.1:{self.ports.otlp_grpc}"

    def log_path(self, name: str) -> Path:
        return self.state_dir / "logs" / f"{name}.log"

    def _pid_path(self, name: str) -> Path:
        return self.state_dir / "run" / f"{name}.pid"

    # Lifecycle --------------------------------------------------------------------------------------
    def up(
        self, *, build: bool = True, timeout: float = 90.0, echo: Callable[[str], None] = _quiet
    ) -> list[ComponentStatus]:
        """Start every component that is not already running and wait until each is ready.

        If one fails, the ones started by this call are stopped again and StackError quotes its log.
        """
        saved = self.state_dir / "ports.json"
        if saved.is_file() and StackPorts.load(saved) != self.ports and any(s.running for s in self.status()):
            raise StackError(
                f"a stack is already running from {self.state_dir} on other ports; `down` it first"
            )
        self._ensure_binaries(build, echo)
        # Owner-only: rendered configs hold webhook URLs and keys, logs may quote them, data is ours.
        private_dir(self.state_dir)
        for sub in ("logs", "run", "data"):
            private_dir(self.state_dir / sub)
        self.ports.save(self.state_dir / "ports.json")
        configs = render(self.config_dir, self.state_dir, self.ports, self.options)
        started: list[Component] = []
        try:
            for component in COMPONENTS:
                record = process.PidRecord.load(self._pid_path(component.name))
                if record is not None and process.is_running(record):
                    echo(f"{component.name}: already running (pid {record.pid})")
                    continue
                argv = component.argv(
                    binaries.find(component.binary, self.env),
                    configs,
                    self.ports,
                    self.state_dir / "data",
                    self.options,
                )
                echo(f"{component.name}: starting")
                record, popen = process.start(
                    component.name,
                    argv,
                    log_path=self.log_path(component.name),
                    pid_path=self._pid_path(component.name),
                    env=self.env,
                    cwd=self.state_dir,
                )
                self._popens[component.name] = popen
                started.append(component)
                self._wait_ready(component, popen, timeout)
                echo(f"{component.name}: ready")
        except BaseException:
            for component in reversed(started):
                self._stop(component.name)
            raise
        return self.status()

    def down(self, *, timeout: float = 15.0) -> list[str]:
        """Stop the components this state folder started (and nothing else). Returns those stopped."""
        stopped = []
        for component in reversed(COMPONENTS):
            if self._stop(component.name, timeout):
                stopped.append(component.name)
        return stopped

    def status(self) -> list[ComponentStatus]:
        result = []
        for component in COMPONENTS:
            popen = self._popens.get(component.name)
            if popen is not None:
                popen.poll()  # reap, so a dead child is not mistaken for a live zombie
            record = process.PidRecord.load(self._pid_path(component.name))
            running = record is not None and process.is_running(record)
            result.append(
                ComponentStatus(
                    component.name,
                    running,
                    record.pid if record and running else None,
                    process.rss_bytes(record.pid) if record and running else None,
                    component.endpoints(self.ports),
                    self.log_path(component.name),
                )
            )
        return result

    def logs(self, name: str, lines: int = 50) -> str:
        if name not in {c.name for c in COMPONENTS}:
            raise KeyError(f"unknown component {name!r}; one of {', '.join(c.name for c in COMPONENTS)}")
        return process.tail(self.log_path(name), lines)

    # Internals --------------------------------------------------------------------------------------
    def _ensure_binaries(self, build: bool, echo: Callable[[str], None]) -> None:
        names = [c.binary for c in COMPONENTS]
        absent = binaries.missing(names, self.env)
        if not build:
            if absent:
                raise StackError(
                    f"missing: {', '.join(absent)}; run scripts/build-go-tools.sh and "
                    "scripts/install-system-packages.sh, or `otel-secretary stack up --build`"
                )
            return
        if absent:
            echo(f"building/installing: {', '.join(absent)} (first run: a few minutes)")
        # Go tools present but built from older inputs (a receiver added to the manifest) would reject
        # the current configs; the build script rebuilds only what its version stamps call stale, and
        # takes about a second when everything is current.
        wanted = [n for n in names if n in absent or n in binaries.GO_TOOLS]
        try:
            binaries.build(wanted, env=self.env, echo=echo)
        except (RuntimeError, OSError) as exc:
            still_absent = binaries.missing(names, self.env)
            if still_absent:
                raise StackError(f"could not build/install {', '.join(still_absent)}: {exc}") from exc
            echo(f"warning: could not check the built programs are current ({exc}); using them as they are")

    def _wait_ready(self, component: Component, popen: subprocess.Popen[bytes], timeout: float) -> None:
        url = component.ready_url(self.ports)
        deadline = time.monotonic() + timeout
        last_error = "no answer"
        with httpx.Client(timeout=2.0) as client:
            while time.monotonic() < deadline:
                if popen.poll() is not None:
                    raise StackError(
                        f"{component.name} exited ({popen.returncode}) during start-up; last log lines "
                        f"({self.log_path(component.name)}):\n{process.tail(self.log_path(component.name))}"
                    )
                try:
                    response = client.get(url)
                    if response.status_code == 200:
                        return
                    last_error = f"HTTP {response.status_code}"
                except httpx.HTTPError as exc:
                    last_error = type(exc).__name__
                time.sleep(0.2)
        raise StackError(
            f"{component.name} not ready at {url} after {timeout:.0f}s ({last_error}); last log lines "
            f"({self.log_path(component.name)}):\n{process.tail(self.log_path(component.name))}"
        )

    def _stop(self, name: str, timeout: float = 15.0) -> bool:
        pid_path = self._pid_path(name)
        record = process.PidRecord.load(pid_path)
        if record is None:
            return False
        was_running = process.stop(record, timeout=timeout, popen=self._popens.pop(name, None))
        pid_path.unlink(missing_ok=True)
        return was_running
