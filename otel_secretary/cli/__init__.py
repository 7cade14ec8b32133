"""The ``otel-secretary`` command. Each feature area adds its own sub-command group below."""

from __future__ import annotations

import typer

from otel_secretary.cli import alerts as alerts_cli
from otel_secretary.cli import config as config_cli
from otel_secretary.cli import dashboards as dashboards_cli
from otel_secretary.cli import errors as errors_cli
from otel_secretary.cli import pii as pii_cli
from otel_secretary.cli import rules as rules_cli
from otel_secretary.cli import stack as stack_cli

app = typer.Typer(
    help="otel-secretary: telemetry, PII masking, alert rules and the local stack.", no_args_is_help=True
)
app.add_typer(config_cli.app, name="config")
app.add_typer(errors_cli.app, name="errors")
app.add_typer(pii_cli.app, name="pii")
app.add_typer(stack_cli.app, name="stack")
app.add_typer(rules_cli.app, name="rules")
app.add_typer(alerts_cli.app, name="alerts")
app.add_typer(dashboards_cli.app, name="dashboards")


def main() -> None:
    app()
