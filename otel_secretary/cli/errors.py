"""``otel-secretary errors …``: look at what is failing without opening Grafana or Sentry."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from otel_secretary.errors.summary import ErrorSummary, parse_window, summarize_files, summarize_stack
from otel_secretary.settings import load_settings

app = typer.Typer(
    help="Error tracking: rates by category and the top error fingerprints.", no_args_is_help=True
)

_SOURCES = ("auto", "files", "stack")


@app.command()
def summary(
    window: Annotated[str, typer.Option(help="How far back to look: 30m, 1h, 2d …")] = "1h",
    source: Annotated[
        str, typer.Option(help="files (embedded traces.jsonl), stack (Prometheus + Jaeger) or auto")
    ] = "auto",
    data_dir: Annotated[
        Path | None, typer.Option(help="Folder of traces.jsonl; default OTEL_SECRETARY_DATA_DIR")
    ] = None,
    prometheus_url: Annotated[
        str, typer.Option(help="Prometheus HTTP API base URL")
    ] = "http://127.0.0.1:9090",
    jaeger_url: Annotated[str, typer.Option(help="Jaeger query base URL")] = "http://127.0.0.1:16686",
    service: Annotated[
        list[str] | None, typer.Option(help="Jaeger service(s) to search; default all (repeatable)")
    ] = None,
    top: Annotated[int, typer.Option(min=1, help="How many fingerprints to list")] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables")] = False,
) -> None:
    """Error rates by category and the top fingerprints over WINDOW."""
    try:
        seconds = parse_window(window)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--window") from None
    if source not in _SOURCES:
        raise typer.BadParameter(f"one of {', '.join(_SOURCES)}", param_hint="--source")
    settings = load_settings()
    if source == "auto":
        source = "files" if settings.embedded else "stack"
    if source == "files":
        result = summarize_files(data_dir or settings.data_dir, seconds, top=top)
    else:
        result = summarize_stack(prometheus_url, jaeger_url, seconds, services=service, top=top)
    if as_json:
        typer.echo(json.dumps(result.as_dict(), indent=2))
    else:
        render(result, Console())


def _count(value: float) -> str:
    return f"{value:.0f}" if abs(value - round(value)) < 0.05 else f"{value:.1f}"


def render(result: ErrorSummary, console: Console) -> None:
    """Two tables: categories (count, per minute, by severity) and fingerprints (count, where, trace)."""
    window = (
        f"{result.window_seconds / 3600:g}h"
        if result.window_seconds >= 3600
        else f"{result.window_seconds / 60:g}m"
    )
    headline = f"[bold]{_count(result.total)}[/] errors in the last {window} ({result.source})"
    if result.requests:
        failed = result.failed_requests or 0
        share = 100 * failed / result.requests
        headline += f"; {_count(failed)} of {_count(result.requests)} requests failed ({share:.2f}%)"
    console.print(headline)
    categories = Table(title="Errors by category")
    for column in ("category", "count", "per min", "by severity"):
        categories.add_column(column, justify="right" if column in ("count", "per min") else "left")
    for row in result.categories:
        spread = ", ".join(f"{sev or '?'} {_count(n)}" for sev, n in sorted(row.by_severity.items()))
        categories.add_row(row.category, _count(row.count), f"{row.per_minute:.2f}", spread)
    console.print(categories)
    fingerprints = Table(title="Top fingerprints")
    for column in (
        "fingerprint",
        "count",
        "category",
        "severity",
        "error.type",
        "where",
        "last seen",
        "trace",
    ):
        fingerprints.add_column(column, justify="right" if column == "count" else "left", overflow="fold")
    for fp in result.fingerprints:
        fingerprints.add_row(
            fp.fingerprint,
            str(fp.count),
            f"{fp.category}/{fp.system}" if fp.system else fp.category,
            fp.severity,
            fp.error_type,
            fp.where,
            time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(fp.last_seen_unix)),
            fp.example_trace_id,
        )
    console.print(fingerprints)
    for note in result.notes:
        console.print(f"[yellow]note:[/] {note}")
