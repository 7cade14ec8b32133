"""Our tests' view of the test kit's subprocess helpers: every child runs in the checkout, with it on
PYTHONPATH, so it can import ``tests.apps`` and ``examples`` as the test process does."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from otel_secretary.testing import processes
from otel_secretary.testing.processes import free_port, start_redis, stripe_mock_binary, venv_tool

REPO = Path(__file__).resolve().parents[2]  # the repository root (tests/support/..)

__all__ = ["REPO", "Proc", "clean_env", "free_port", "start_redis", "stripe_mock_binary", "venv_tool"]


class Proc(processes.Proc):
    """A started subprocess whose stdout+stderr go to ``log``, run from the checkout unless told otherwise."""

    def __init__(
        self, name: str, argv: Sequence[str], env: Mapping[str, str], log_dir: Path, cwd: Path = REPO
    ):
        super().__init__(name, argv, env, log_dir, cwd)


def clean_env(**extra: str) -> dict[str, str]:
    """The environment for an instrumented child: ours only, no OTEL_* leaking from the developer's shell."""
    return processes.clean_env(pythonpath=REPO, **extra)
