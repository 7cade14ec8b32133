"""The ``otel-secretary`` command. Each feature area adds its own sub-command group below."""

from __future__ import annotations

import sys

import typer

from otel_secretary.cli import alerts as alerts_cli
from otel_secretary.cli import config as config_cli
from otel_secretary.cli import dashboards as dashboards_cli
from otel_secretary.cli import errors as errors_cli
from otel_secretary.cli import generate as generate_cli
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
app.command("generate")(generate_cli.generate)


def main() -> None:
    """Run the command; bad input anywhere (a setting, a file, a folder) ends in one line, exit 2.

    Sub-commands report the errors they expect themselves; this catches the rest (a notification
    config read deep inside ``alerts test``, a file that vanished) so a user never gets a traceback
    for their own mistake. Anything else is our bug and keeps its traceback.
    """
    from otel_secretary._internal.self_monitoring import is_bad_input

    try:
        app()
    except Exception as exc:
        if not (is_bad_input(exc) or isinstance(exc, OSError)):
            raise
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
