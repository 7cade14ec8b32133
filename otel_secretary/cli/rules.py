"""`otel-secretary rules …`: validate specs, render Prometheus/promtool/Alertmanager files, check them."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Annotated, TypeAlias

import typer

from otel_secretary.cli import _paths
from otel_secretary.rules import render
from otel_secretary.rules.spec import (
    Routing,
    RuleSpec,
    SpecError,
    SpecFolderError,
    bind_service,
    load_routing,
)

app = typer.Typer(help="Alert rule specs: validate, render to Prometheus rules and promtool tests, check.")

SpecsOption: TypeAlias = Annotated[
    Path | None,
    typer.Option(
        help="Folder of *.yaml/*.yml specs (default: ./rules if it exists, else the shipped specs)."
    ),
]
OutOption: TypeAlias = Annotated[
    Path | None,
    typer.Option(help="Generated folder (default: <specs>/generated; ./generated for the shipped specs)."),
]
ServiceOption: TypeAlias = Annotated[
    str | None,
    typer.Option(
        "--service",
        envvar="OTEL_SERVICE_NAME",
        help="Service that span rules without a `service:` selector watch (default: $OTEL_SERVICE_NAME; "
        "unset: every service, one alert per service_name).",
    ),
]


def _source(specs: Path | None) -> _paths.SpecSource:
    source = _paths.resolve_specs(specs)
    if source.shipped:
        typer.echo(f"note: no ./{_paths.LOCAL_SPECS} folder here, using {source.describe()}", err=True)
    return source


def _routing(specs: Path | _paths.SpecSource) -> Routing | None:
    folder = specs.folder if isinstance(specs, _paths.SpecSource) else specs
    try:
        return load_routing(folder, relative_to=folder.parent)
    except SpecError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


def _out(source: _paths.SpecSource, out: Path | None) -> Path:
    try:
        return _paths.writable_out(out or _paths.default_out(source))
    except _paths.PackageOutputError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


def _load(specs: Path | _paths.SpecSource, service: str | None = None) -> list[RuleSpec]:
    source = specs if isinstance(specs, _paths.SpecSource) else _paths.SpecSource(specs, shipped=False)
    try:
        return bind_service(_paths.load_specs(source), service)
    except (SpecError, SpecFolderError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


@app.command()
def validate(specs: SpecsOption = None) -> None:
    """Parse every spec; errors name file, line and field."""
    source = _source(specs)
    loaded = _load(source)
    _routing(source)
    typer.echo(f"{len(loaded)} rules OK in {source.folder}")


@app.command("render")
def render_command(
    specs: SpecsOption = None,
    out: OutOption = None,
    service: ServiceOption = None,
    by: Annotated[str | None, typer.Option("--by", help="Who renders, for the audit log.")] = None,
) -> None:
    """Write recording+alerting rules and promtool tests per source, and alertmanager.yml."""
    source = _source(specs)
    out = _out(source, out)
    loaded = _load(source, service)
    written = render.write_all(loaded, out, routing=_routing(source))
    _audit_render(source, out, loaded, written, by, service)
    bound = f"; rules without a service selector watch {service!r}" if service else ""
    typer.echo(f"wrote {len(written)} files to {out}{bound}")


def _audit_render(
    source: _paths.SpecSource,
    out: Path,
    loaded: list[RuleSpec],
    written: list[Path],
    by: str | None,
    service: str | None,
) -> None:
    """A ``rules.rendered`` entry in the data folder's audit log: these files change what Prometheus and
    Alertmanager alert on once loaded.

    Only where a data folder is in use (it exists, or ``OTEL_SECRETARY_DATA_DIR`` names one): rendering in
    a bare folder must leave nothing but the generated files behind.
    """
    import os

    from otel_secretary import audit, pii
    from otel_secretary.settings import load_settings

    try:
        settings = load_settings()
        masker: pii.Masker | None = pii.build_masker(settings)
    except Exception:
        return  # a bad setting is reported by the command that needs it
    if not (settings.data_dir.is_dir() or os.environ.get("OTEL_SECRETARY_DATA_DIR")):
        return
    details = {
        "specs": source.describe(),
        "files": len(written),
        "rules": sorted(spec.name for spec in loaded),
        "spec_digests": audit.rule_digests(source.folder),
        "service": service or "",
    }
    audit.record(
        settings.data_dir,
        "rules.rendered",
        by=by,
        target=str(out),
        where=str(out),
        details=details,
        masker=masker,
    )


def drift(specs: Path | _paths.SpecSource, out: Path, service: str | None = None) -> list[str]:
    """Generated files that differ from what the specs render to now."""
    expected = render.render_all(_load(specs, service), routing=_routing(specs))
    problems = [name for name, content in expected.items() if _read(out / name) != content]
    problems += [
        str(p.relative_to(out)) for p in out.glob("*/*.yml") if str(p.relative_to(out)) not in expected
    ]
    return sorted(problems)


def _read(path: Path) -> str | None:
    return path.read_text(encoding="utf-8") if path.exists() else None


def _run(command: list[str], cwd: Path) -> bool:
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        typer.echo(f"FAILED: {' '.join(command)} (in {cwd})\n{result.stdout}{result.stderr}", err=True)
    return result.returncode == 0


@app.command()
def check(specs: SpecsOption = None, out: OutOption = None, service: ServiceOption = None) -> None:
    """Drift check, `promtool check rules`, `promtool test rules`, `amtool check-config`."""
    source = _source(specs)
    _load(source)  # a missing or empty spec folder is the first thing to say
    out = out or _paths.default_out(source)
    ok = True
    if not out.is_dir():
        typer.echo(f"error: {out}: no generated files (run `otel-secretary rules render`)", err=True)
        raise typer.Exit(1)
    stale = drift(source, out, service)
    if stale:
        typer.echo(
            f"generated files are stale (run `otel-secretary rules render`): {', '.join(stale)}", err=True
        )
        ok = False
    promtool, amtool = shutil.which("promtool"), shutil.which("amtool")
    if promtool is None or amtool is None:
        typer.echo("promtool/amtool not found: apt-get install prometheus prometheus-alertmanager", err=True)
        raise typer.Exit(1)
    # Only the folders holding rule files: the repository's generated/ also holds dashboards/.
    for source_dir in sorted(p for p in out.iterdir() if p.is_dir() and any(p.glob("*.rules.yml"))):
        rule_files = sorted(p.name for p in source_dir.glob("*.rules.yml"))
        test_files = sorted(p.name for p in source_dir.glob("*.test.yml"))
        ok &= _run([promtool, "check", "rules", *rule_files], source_dir)
        ok &= _run([promtool, "test", "rules", *test_files], source_dir)
        typer.echo(f"{source_dir.name}: {len(rule_files)} rule files, {len(test_files)} test files")
    if (out / "alertmanager.yml").exists():
        ok &= _run([amtool, "check-config", "alertmanager.yml"], out)
    if not ok:
        raise typer.Exit(1)
    typer.echo("rules check passed")


@app.command()
def alertmanager(
    out: Annotated[Path, typer.Option(help="Where to write alertmanager.yml.")] = Path("alertmanager.yml"),
    specs: SpecsOption = None,
    slack_url: Annotated[
        str, typer.Option(envvar="SLACK_WEBHOOK_URL")
    ] = render.AlertmanagerOptions.slack_url,
    pagerduty_url: Annotated[str, typer.Option()] = render.AlertmanagerOptions.pagerduty_url,
    pagerduty_routing_key: Annotated[
        str, typer.Option(envvar="PAGERDUTY_ROUTING_KEY")
    ] = render.AlertmanagerOptions.pagerduty_routing_key,
    smtp_smarthost: Annotated[str, typer.Option()] = render.AlertmanagerOptions.smtp_smarthost,
    email_from: Annotated[str, typer.Option()] = render.AlertmanagerOptions.email_from,
    email_to: Annotated[str, typer.Option()] = render.AlertmanagerOptions.email_to,
) -> None:
    """Write alertmanager.yml: pages to PagerDuty + Slack, tickets to Slack + e-mail; pages mute tickets.

    The specs' ``routing:`` block (repeat intervals, inhibition, extra routes) applies as in ``render``,
    so the standalone file and the rendered one agree."""
    routing = _routing(_source(specs))
    options = render.AlertmanagerOptions(
        slack_url=slack_url,
        pagerduty_url=pagerduty_url,
        pagerduty_routing_key=pagerduty_routing_key,
        smtp_smarthost=smtp_smarthost,
        email_from=email_from,
        email_to=email_to,
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render.dump(render.render_alertmanager(options, routing=routing)), encoding="utf-8")
    amtool = shutil.which("amtool")
    if amtool and not _run([amtool, "check-config", out.name], out.parent.resolve()):
        raise typer.Exit(1)
    typer.echo(f"wrote {out}")
