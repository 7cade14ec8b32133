"""`otel-secretary stack up` option handling that needs no running programs."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from otel_secretary.cli import app


def test_up_refuses_both_an_alertmanager_file_and_the_generated_routing(tmp_path: Path) -> None:
    config = tmp_path / "alertmanager.yml"
    config.write_text("route: {receiver: x}\nreceivers: [{name: x}]\n")
    result = CliRunner().invoke(
        app,
        [
            "stack",
            "up",
            "--state-dir",
            str(tmp_path / "state"),
            "--no-build",
            "--generated-routing",
            "--alertmanager-config",
            str(config),
        ],
    )
    assert result.exit_code == 2
    assert "either --alertmanager-config or --generated-routing" in result.output
    assert not (tmp_path / "state").exists()  # refused before anything was written
