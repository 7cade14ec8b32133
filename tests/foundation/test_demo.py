"""The README's main job runs end to end: the app with sample traffic, the privacy check, the alert path."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.processes import REPO, clean_env

pytestmark = pytest.mark.integration


def test_the_demo_runs_and_its_checks_pass(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "examples.ai_secretary.demo",
            "--rounds",
            "1",
            "--dir",
            str(tmp_path / "demo"),
        ],
        cwd=REPO,
        env=clean_env(COLUMNS="200"),
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    assert "Privacy check: none of the 5 kinds of personal data sent appear" in out
    assert ", 0 that the masker would still change" in out
    assert "OpenAIAvailabilityBudgetBurn" in out and "trigger" in out and "resolve" in out
    assert "with a valid HMAC signature" in out
    assert (tmp_path / "demo" / "telemetry" / "traces.jsonl").stat().st_size > 0
