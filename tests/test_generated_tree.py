"""The repository's generated/ tree is exactly what one `otel-secretary generate` (`make generate`) writes."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from otel_secretary.cli import app
from otel_secretary.rules.spec import default_rules_dir
from tests.support.processes import REPO

COMMITTED = REPO / "generated"
HINT = "run `make generate` (otel-secretary generate)"


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_one_command_regenerates_the_whole_committed_tree(tmp_path: Path) -> None:
    out = tmp_path / "generated"
    result = CliRunner().invoke(app, ["generate", "--out", str(out), "--specs", str(default_rules_dir())])
    assert result.exit_code == 0, result.output
    fresh, committed = _tree(out), _tree(COMMITTED)
    assert sorted(fresh) == sorted(committed), HINT
    stale = [name for name in fresh if fresh[name] != committed[name]]
    assert not stale, f"stale: {stale}; {HINT}"
    # Every kind of artefact is in the one tree.
    assert {"alertmanager.yml", "pii-redaction.yaml", "otelcol-spanmetrics.yaml"} <= set(fresh)
    assert any(n.startswith("collector/") for n in fresh) and any(n.startswith("sdk/") for n in fresh)
    assert any(n.startswith("dashboards/") and n.endswith(".json") for n in fresh)


def test_generate_refuses_to_write_into_the_installed_package(tmp_path: Path) -> None:
    target = default_rules_dir() / "generated"
    result = CliRunner().invoke(app, ["generate", "--out", str(target)])
    assert result.exit_code == 2
    assert "refusing to write inside the installed package" in result.output
    assert not target.exists()


def test_the_repository_keeps_one_copy_of_the_specs() -> None:
    assert not (REPO / "rules").exists(), "shipped specs live in otel_secretary/rules/specs only"
    assert list(default_rules_dir().glob("*.yaml"))
