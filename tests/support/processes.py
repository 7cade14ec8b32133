"""Tests use the example's process helpers (one implementation for the demo and the suite)."""

from examples.ai_secretary.processes import REPO, Proc, clean_env, free_port, start_redis, venv_tool

__all__ = ["REPO", "Proc", "clean_env", "free_port", "start_redis", "venv_tool"]
