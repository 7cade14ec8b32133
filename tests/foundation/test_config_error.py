"""Every user-input error of ours is a ConfigError, and "is this the user's mistake?" asks only that."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from otel_secretary._internal.self_monitoring import is_bad_input
from otel_secretary.alerting import regex
from otel_secretary.config_error import ConfigError
from otel_secretary.genai._cost import PriceBook
from otel_secretary.notify import InvalidSignature
from otel_secretary.pii._patterns import load_patterns
from otel_secretary.rules.spec import load_file
from otel_secretary.settings import load_settings
from tests.support.processes import venv_tool


def _raised(call: object) -> BaseException:
    with pytest.raises(ConfigError) as caught:
        call()  # type: ignore[operator]
    return caught.value


def test_each_kind_of_bad_input_raises_a_config_error(tmp_path: Path) -> None:
    bad_spec = tmp_path / "spec.yaml"
    bad_spec.write_text("rules:\n  - name: lower_case\n    kind: threshold\n", encoding="utf-8")
    bad_patterns = tmp_path / "patterns.yaml"
    bad_patterns.write_text("patterns: 3\n", encoding="utf-8")
    bad_prices = tmp_path / "prices.yaml"
    bad_prices.write_text("models: {gpt-4o-mini: {input: 0.15}}\n", encoding="utf-8")
    errors = [
        _raised(lambda: load_settings({"OTEL_SECRETARY_MAX_QUEUE_SIZE": "many"})),
        _raised(lambda: load_file(bad_spec)),
        _raised(lambda: load_patterns(bad_patterns)),
        _raised(lambda: PriceBook.from_file(bad_prices)),
        _raised(lambda: regex.check("(a+)+(")),
    ]
    assert all(is_bad_input(e) for e in errors)
    assert "OTEL_SECRETARY_MAX_QUEUE_SIZE" in str(errors[0]) and "spec.yaml:2" in str(errors[1])


def test_other_errors_are_not_the_users_mistake() -> None:
    assert not is_bad_input(ValueError("a bug of ours"))
    assert not is_bad_input(InvalidSignature("a forged webhook is not a configuration mistake"))
    assert not is_bad_input(KeyError("x"))


def test_the_cli_turns_a_bad_setting_into_one_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [venv_tool("otel-secretary"), "config", "check"],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "OTEL_SECRETARY_MAX_QUEUE_SIZE": "many"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "OTEL_SECRETARY_MAX_QUEUE_SIZE" in result.stdout + result.stderr
