"""Finds the programs the stack runs and builds the missing ones.

Go programs (our collector, Jaeger, stripe-mock) are built by scripts/build-go-tools.sh into a cache folder
that survives checkouts; Prometheus and Alertmanager come from Debian packages on PATH. This module never
downloads anything itself: it calls the project's scripts, which use the ordinary package clients.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

BIN_DIR_ENV = "OTEL_SECRETARY_BIN_DIR"
GO_TOOLS = ("otelcol-secretary", "jaeger", "stripe-mock", "builder")
# Logical name -> executable names to try on PATH (Debian installs Alertmanager as prometheus-alertmanager).
SYSTEM_TOOLS: dict[str, tuple[str, ...]] = {
    "prometheus": ("prometheus",),
    "promtool": ("promtool",),
    "alertmanager": ("prometheus-alertmanager", "alertmanager"),
    "amtool": ("amtool",),
    "redis-server": ("redis-server",),
}


class BinaryNotFound(RuntimeError):
    """A program the stack needs is neither built nor installed."""

    def __init__(self, name: str) -> None:
        how = "scripts/build-go-tools.sh" if name in GO_TOOLS else "scripts/install-system-packages.sh"
        super().__init__(f"{name} not found; build/install it with {how} (or `otel-secretary stack up`)")
        self.name = name


def repo_root() -> Path:
    """The source checkout this package runs from (the stack is a developer tool, run from a clone)."""
    return Path(__file__).resolve().parents[2]


def bin_dir(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    configured = env.get(BIN_DIR_ENV, "")
    return Path(configured).expanduser() if configured else Path.home() / ".cache" / "otel-secretary" / "bin"


def find(name: str, env: Mapping[str, str] | None = None) -> Path:
    """Path of ``name``: Go tools from the cache folder, system tools from PATH (then /usr/bin)."""
    if name in GO_TOOLS:
        candidate = bin_dir(env) / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
        raise BinaryNotFound(name)
    for executable in SYSTEM_TOOLS.get(name, (name,)):
        found = shutil.which(executable) or shutil.which(executable, path="/usr/bin:/usr/sbin")
        if found:
            return Path(found)
    raise BinaryNotFound(name)


def missing(names: Iterable[str], env: Mapping[str, str] | None = None) -> list[str]:
    absent = []
    for name in names:
        try:
            find(name, env)
        except BinaryNotFound:
            absent.append(name)
    return absent


def build(
    names: Iterable[str],
    *,
    env: Mapping[str, str] | None = None,
    echo: Callable[[str], None] = print,
) -> None:
    """Build/install ``names`` with the project's scripts, streaming their progress lines to ``echo``."""
    names = list(names)
    scripts = repo_root() / "scripts"
    go_tools = [n for n in names if n in GO_TOOLS]
    system = [n for n in names if n not in GO_TOOLS]
    steps: list[list[str]] = []
    if system:
        steps.append(["bash", str(scripts / "install-system-packages.sh")])
    if go_tools:
        steps.append(["bash", str(scripts / "build-go-tools.sh"), *go_tools])
    run_env = dict(os.environ if env is None else env)
    for argv in steps:
        if not Path(argv[1]).is_file():
            raise BinaryNotFound(names[0])
        with subprocess.Popen(
            argv, env=run_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        ) as proc:
            assert proc.stdout is not None
            for line in proc.stdout:
                echo(line.rstrip("\n"))
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} failed with exit code {proc.returncode}")
