"""`otel-secretary dashboards …`: render the Grafana dashboards, or check the committed ones are current."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, TypeAlias

import typer

from otel_secretary import dashboards
from otel_secretary.cli import _paths

app = typer.Typer(help="Grafana dashboards generated from the alert rules' metric names.")

# Relative to where the command runs (the repository root in a checkout), never into the package.
REPO_OUT = Path("generated") / "dashboards"
OutOption: TypeAlias = Annotated[
    Path, typer.Option(help="Folder for the dashboard JSON (mounted by Grafana provisioning).")
]
SpecsOption: TypeAlias = Annotated[
    Path | None,
    typer.Option(help="Folder of rule specs (default: ./rules if it exists, else the shipped specs)."),
]
RunbookOption: TypeAlias = Annotated[
    str, typer.Option(help="URL prefix of docs/runbooks/ for panel links (a dashboard variable).")
]


def _render(specs: Path | None, runbook_base: str) -> dict[str, str]:
    source = _paths.resolve_specs(specs)
    return dashboards.render_all(_paths.load_specs(source), runbook_base=runbook_base)


@app.command()
def render(
    out: OutOption = REPO_OUT,
    specs: SpecsOption = None,
    runbook_base: RunbookOption = dashboards.DEFAULT_RUNBOOK_BASE,
) -> None:
    """Write one JSON file per dashboard."""
    _paths.writable_out(out)
    written = dashboards.write_all(out, _render(specs, runbook_base))
    typer.echo(f"wrote {len(written)} dashboards to {out}")


@app.command()
def check(
    out: OutOption = REPO_OUT,
    specs: SpecsOption = None,
    runbook_base: RunbookOption = dashboards.DEFAULT_RUNBOOK_BASE,
) -> None:
    """Fail if the committed dashboards differ from what the code renders now."""
    expected = _render(specs, runbook_base)
    stale = sorted(
        name
        for name, text in expected.items()
        if not (out / name).exists() or (out / name).read_text(encoding="utf-8") != text
    )
    stale += sorted(p.name for p in out.glob("otel-secretary-*.json") if p.name not in expected)
    if stale:
        typer.echo(
            f"dashboards are stale (run `otel-secretary dashboards render`): {', '.join(stale)}", err=True
        )
        raise typer.Exit(1)
    typer.echo(f"{len(expected)} dashboards up to date")
