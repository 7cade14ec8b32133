"""`otel-secretary generate`: every generated artefact of a project, into one folder, with one command.

Prometheus rules and promtool tests (both sources), ``alertmanager.yml``, the Grafana dashboards, the
Collector's PII redaction config and its span-metrics buckets all derive from the rule specs, the
telemetry registry (:mod:`otel_secretary.semconv`) and the PII patterns. Made separately, by three
commands, one of them was always stale; one command writing one tree (``make generate`` in the
repository) keeps them together, and each drift test names this command.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from otel_secretary import dashboards
from otel_secretary.cli import rules as rules_cli
from otel_secretary.pii import collector_config
from otel_secretary.pii._detectors import DETECTORS
from otel_secretary.rules import render
from otel_secretary.stack import spanmetrics

#: What the repository commits under ``generated/`` and the drift tests compare against.
DEFAULT_OUT = Path("generated")
DASHBOARDS = "dashboards"
PII_REDACTION = "pii-redaction.yaml"


def generate(
    out: Annotated[Path, typer.Option(help="Folder for everything generated.")] = DEFAULT_OUT,
    specs: Annotated[
        Path | None,
        typer.Option(help="Folder of rule specs (default: ./rules if it exists, else the shipped specs)."),
    ] = None,
) -> None:
    """Write rules, promtool tests, alertmanager.yml, dashboards and the Collector fragments into OUT.

    Rules are rendered for every service (no ``--service`` binding), as committed in the repository.
    """
    source = rules_cli._source(specs)
    out = rules_cli._out(source, out)
    loaded = rules_cli._load(source)
    written = render.write_all(loaded, out, routing=rules_cli._routing(source))
    written += dashboards.write_all(out / DASHBOARDS, dashboards.render_all(loaded))
    pii = out / PII_REDACTION
    pii.write_text(collector_config.render(DETECTORS, mask_ip=True, transform=False), encoding="utf-8")
    written.append(pii)
    buckets = out / spanmetrics.FILE_NAME
    buckets.write_text(spanmetrics.render(), encoding="utf-8")
    written.append(buckets)
    typer.echo(f"wrote {len(written)} files to {out} from {source.describe()}")


__all__ = ["DEFAULT_OUT", "generate"]
