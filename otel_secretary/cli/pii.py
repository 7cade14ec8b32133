"""``otel-secretary pii …``: try the masker, check pattern files, generate the Collector config."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from otel_secretary.pii import DETECTORS, Masker, PatternError, collector_config, load_patterns
from otel_secretary.settings import PiiMode

app = typer.Typer(
    help="PII masking: try it, check extra patterns, generate the Collector config.", no_args_is_help=True
)


@app.command("collector-config")
def collector_config_command(
    output: Annotated[
        Path, typer.Option("--output", "-o", help="File to write; '-' prints to stdout")
    ] = collector_config.DEFAULT_PATH,
    extra_patterns: Annotated[
        Path | None, typer.Option(help="Extra patterns YAML (as OTEL_SECRETARY_PII_EXTRA_PATTERNS)")
    ] = None,
    mask_ip: Annotated[bool, typer.Option("--mask-ip/--no-mask-ip", help="Also mask IP addresses")] = True,
    transform: Annotated[
        bool, typer.Option(help="Also emit a transform/pii processor (OTTL) with typed placeholders")
    ] = False,
) -> None:
    """Write the Collector's redaction processor config from the same patterns the SDK masks with."""
    try:
        extra = load_patterns(extra_patterns) if extra_patterns else ()
    except PatternError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    detectors = (*DETECTORS, *extra)
    text = collector_config.render(detectors, mask_ip=mask_ip, transform=transform)
    if str(output) == "-":
        sys.stdout.write(text)
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")
    typer.echo(f"wrote {output}")


@app.command()
def mask(
    text: Annotated[str | None, typer.Argument(help="Text to mask; read from stdin when omitted")] = None,
    mode: Annotated[PiiMode, typer.Option(help="placeholder or pseudonym")] = "placeholder",
    key: Annotated[
        str, typer.Option(help="HMAC key for pseudonym mode", envvar="OTEL_SECRETARY_PII_KEY")
    ] = "",
) -> None:
    """Print TEXT as it would leave the process."""
    masker = Masker(mode=mode, key=key or ("cli-preview" if mode == "pseudonym" else ""))
    source = text if text is not None else sys.stdin.read()
    sys.stdout.write(masker.mask_text(source) + ("" if source.endswith("\n") else "\n"))


@app.command("check-patterns")
def check_patterns(path: Annotated[Path, typer.Argument(help="Extra patterns YAML file")]) -> None:
    """Refuse patterns that could backtrack catastrophically or that RE2 cannot compile."""
    try:
        detectors = load_patterns(path)
    except PatternError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    typer.echo(f"{path}: {len(detectors)} pattern(s) OK")


@app.command("audit")
def audit_command(
    sources: Annotated[
        list[str],
        typer.Argument(
            help="Folders (e.g. .otel-secretary), OTLP-JSON/JSON/Prometheus-text files, or /metrics URLs",
            metavar="PATHS_OR_URLS",
        ),
    ],
) -> None:
    """Scan exported telemetry for values the masker would still change; exit 1 if any (never shows them)."""
    from rich.console import Console
    from rich.table import Table

    from otel_secretary.pii.audit import audit_files, audit_url
    from otel_secretary.settings import SettingsError, load_settings

    urls = [source for source in sources if source.startswith(("http://", "https://"))]
    paths = [Path(source) for source in sources if source not in urls]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        typer.echo(f"error: no such file or folder: {', '.join(missing)}", err=True)
        raise typer.Exit(2)
    try:
        from otel_secretary.pii import build_masker

        masker = build_masker(load_settings())
    except (SettingsError, PatternError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    report = audit_files(paths, masker)
    for url in urls:
        try:
            audit_url(url, masker, report)
        except Exception as exc:
            typer.echo(f"error: cannot read {url}: {type(exc).__name__}", err=True)
            raise typer.Exit(2) from None
    findings = report.findings or []
    console = Console()
    if findings:
        table = Table("file:line", "where", "kinds", title=f"{len(findings)} values would still be masked")
        for finding in findings[:200]:
            table.add_row(f"{finding.file}:{finding.line}", finding.where, ", ".join(finding.kinds))
        console.print(table)
    console.print(f"{report.values} values in {report.files} files scanned, {len(findings)} findings")
    if findings:
        raise typer.Exit(1)
