"""``otel-secretary config check|show``: validate the environment before a deploy, not after."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from otel_secretary.settings import SETTINGS, SettingsError, load_settings

app = typer.Typer(help="Validate and show otel-secretary settings.", no_args_is_help=True)


@app.command()
def check() -> None:
    """Parse every OTEL_SECRETARY_* variable; exit 2 naming the first invalid one."""
    try:
        settings = load_settings()
    except SettingsError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo("settings OK")
    from otel_secretary.errors import sentry_status

    typer.echo(sentry_status(settings).describe_configuration())


@app.command()
def show() -> None:
    """The effective value of each setting (secrets shown only as set/unset)."""
    settings = load_settings()
    table = Table("variable", "value", "meaning")
    for setting in SETTINGS:
        value = getattr(settings, setting.attribute)
        if setting.attribute in {"pii_key", "sentry_dsn"}:
            value = "(set)" if value else "(unset)"
        table.add_row(setting.env, str(value), setting.doc)
    Console().print(table)
