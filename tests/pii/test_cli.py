"""``otel-secretary pii …`` commands."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from otel_secretary.cli import app

RUNNER = CliRunner()


def test_mask_prints_the_masked_text() -> None:
    result = RUNNER.invoke(app, ["pii", "mask", "mail jane@example.com, card 4242 4242 4242 4242"])
    assert result.exit_code == 0
    assert result.output == "mail <email>, card <card>\n"


def test_mask_reads_stdin_and_supports_pseudonyms() -> None:
    result = RUNNER.invoke(
        app, ["pii", "mask", "--mode", "pseudonym", "--key", "k"], input="to a@example.com\n"
    )
    assert result.exit_code == 0
    assert result.output.startswith("to <email:") and "a@example.com" not in result.output


def test_an_unknown_mode_is_a_usage_error_not_a_traceback() -> None:
    result = RUNNER.invoke(app, ["pii", "mask", "--mode", "bogus", "x"])
    assert result.exit_code == 2 and result.exception is not None
    assert isinstance(result.exception, SystemExit), result.exception
    assert "placeholder" in result.output and "pseudonym" in result.output


def test_check_patterns_accepts_and_refuses(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text("patterns:\n  - {name: badge, kind: badge, pattern: 'BDG-[0-9]{6}'}\n")
    ok = RUNNER.invoke(app, ["pii", "check-patterns", str(good)])
    assert ok.exit_code == 0 and "1 pattern(s) OK" in ok.output

    bad = tmp_path / "bad.yaml"
    bad.write_text("patterns:\n  - {name: evil, kind: evil, pattern: '(a+)+'}\n")
    refused = RUNNER.invoke(app, ["pii", "check-patterns", str(bad)])
    assert refused.exit_code == 2
    assert f"{bad}:2" in refused.output and "unbounded" in refused.output


def test_collector_config_to_stdout() -> None:
    result = RUNNER.invoke(app, ["pii", "collector-config", "--output", "-"])
    assert result.exit_code == 0
    assert result.output.startswith("# GENERATED") and "redaction/pii:" in result.output
