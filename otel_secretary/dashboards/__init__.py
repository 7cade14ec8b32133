"""Grafana dashboards for the AI secretary, generated from Python.

The seed's System Overview, Application Performance, Error Monitoring and Business Metrics dashboards
(plus External APIs & GenAI), rendered as Grafana JSON for file provisioning. Queries use the metric
names of :mod:`otel_secretary.rules.promql` and each alert rule gets a panel with its own expression, so
a dashboard shows what the alerts fire on. This package writes files; it never talks to Grafana.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from otel_secretary.dashboards._boards import build
from otel_secretary.dashboards._grafana import Dashboard, render
from otel_secretary.rules.spec import RuleSpec, default_rules_dir, load_dir

__all__ = ["DEFAULT_RUNBOOK_BASE", "Dashboard", "build", "load_specs", "render_all", "write_all"]

# Relative, like the rules' runbook_url annotations; set it to wherever docs/runbooks/ is published.
DEFAULT_RUNBOOK_BASE = "docs/runbooks"


def load_specs(specs_dir: Path | None = None) -> list[RuleSpec]:
    """The specs in ``specs_dir``, else the ones shipped in the package (the only copy in the repository)."""
    directory = specs_dir or default_rules_dir()
    return load_dir(directory, relative_to=directory.parent)


def render_all(
    specs: Sequence[RuleSpec] | None = None, *, runbook_base: str = DEFAULT_RUNBOOK_BASE
) -> dict[str, str]:
    """File name -> JSON text, byte-stable for a given input (the drift test compares it)."""
    loaded = load_specs() if specs is None else specs
    return {
        board.file_name: json.dumps(render(board, runbook_base=runbook_base), indent=2, ensure_ascii=False)
        + "\n"
        for board in build(loaded)
    }


def write_all(out: Path, files: dict[str, str]) -> list[Path]:
    """Write the rendered files and remove stale generated dashboards (ours only: otel-secretary-*.json)."""
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob("otel-secretary-*.json"):
        if stale.name not in files:
            stale.unlink()
    written = []
    for name, text in sorted(files.items()):
        path = out / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
