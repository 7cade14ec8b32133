"""`otel-secretary stack up|down|status|logs`: the real pipeline (collector, Jaeger, Prometheus,
Alertmanager) as local processes, for the demo, for developers and for the end-to-end tests."""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from pathlib import Path
from typing import Annotated

import httpx
import typer

from otel_secretary.stack import Stack, StackError, StackOptions, StackPorts
from otel_secretary.stack.binaries import BinaryNotFound
from otel_secretary.stack.components import COMPONENTS
from otel_secretary.stack.health import Loss, app_losses, collector_losses
from otel_secretary.stack.render import local_alert_routing

app = typer.Typer(help="Run the real pipeline locally: collector, Jaeger, Prometheus, Alertmanager.")

StateDir = Annotated[Path, typer.Option("--state-dir", help="Folder for configs, data, logs and pid files.")]
DEFAULT_STATE_DIR = Path(".stack")


def _mib(value: int | None) -> str:
    return f"{value / 2**20:.0f} MiB" if value is not None else "-"


def _shown(url: str) -> str:
    # A Slack webhook URL is its own credential: print local stand-ins only.
    return url if url.startswith("http://127.0.0.1:") else "configured (not shown)"


def _losses(stack: Stack) -> tuple[list[Loss], list[str]]:
    """Telemetry lost so far, and which sources could not be asked (a stopped component)."""
    losses: list[Loss] = []
    unavailable = []
    running = {item.name for item in stack.status() if item.running}
    for name in ("otelcol", "prometheus"):
        if name not in running:
            unavailable.append(name)
            continue
        try:
            if name == "otelcol":
                losses += collector_losses(f"http://127.0.0.1:{stack.ports.collector_telemetry}/metrics")
            else:
                losses += app_losses(stack.prometheus_url)
        except (httpx.HTTPError, ValueError, KeyError) as exc:
            unavailable.append(f"{name} ({type(exc).__name__})")
    return losses, unavailable


def _print_status(stack: Stack) -> bool:
    all_running = True
    for item in stack.status():
        all_running &= item.running
        state = f"running (pid {item.pid}, RSS {_mib(item.rss_bytes)})" if item.running else "stopped"
        typer.echo(f"{item.name:<13} {state}")
        if item.running:
            for what, where in item.endpoints.items():
                typer.echo(f"    {what:<32} {where}")
    losses, unavailable = _losses(stack)
    if unavailable == ["otelcol", "prometheus"]:
        return all_running  # nothing to ask: a stopped stack shows its components only
    typer.echo("\nTelemetry lost (since each process started):")
    for loss in losses:
        typer.echo(f"    {loss.where:<20} {loss.what:<48} {loss.count:.0f}")
    if not losses:
        typer.echo("    none counted")
    if unavailable:
        typer.echo(f"    (not asked: {', '.join(unavailable)})")
    return all_running


@app.command()
def up(
    state_dir: StateDir = DEFAULT_STATE_DIR,
    build: Annotated[
        bool, typer.Option("--build/--no-build", help="Build/install missing programs first.")
    ] = True,
    free_ports: Annotated[
        bool,
        typer.Option("--free-ports", help="Fresh free ports instead of the defaults (4317, 9090, ...)."),
    ] = False,
    alertmanager_config: Annotated[
        Path | None,
        typer.Option(help="Use instead of collector-config/alertmanager.yml."),
    ] = None,
    generated_routing: Annotated[
        bool,
        typer.Option(
            "--generated-routing",
            help="Route alerts as `otel-secretary rules alertmanager` does (pages: PagerDuty + Slack; "
            "tickets: Slack + e-mail; pages inhibit tickets). Receivers default to the local alert port.",
        ),
    ] = False,
    slack_url: Annotated[
        str | None, typer.Option(envvar="SLACK_WEBHOOK_URL", help="Slack webhook (--generated-routing).")
    ] = None,
    pagerduty_url: Annotated[str | None, typer.Option(help="PagerDuty Events v2 URL.")] = None,
    pagerduty_routing_key: Annotated[str | None, typer.Option(envvar="PAGERDUTY_ROUTING_KEY")] = None,
    redis_endpoint: Annotated[
        str | None, typer.Option(help="host:port of a Redis whose health the collector scrapes.")
    ] = None,
    rules: Annotated[
        list[Path] | None, typer.Option("--rules", help="Extra Prometheus rule file(s).")
    ] = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for each component.")] = 90.0,
    enable_lifecycle_api: Annotated[
        bool,
        typer.Option(
            "--enable-lifecycle-api",
            help="Let any local process reload or stop Prometheus (/-/reload, /-/quit). Off by default.",
        ),
    ] = False,
    enable_remote_write: Annotated[
        bool,
        typer.Option(
            "--enable-remote-write",
            help="Accept Prometheus remote write (/api/v1/write), e.g. from the scaling gateways. "
            "Off by default.",
        ),
    ] = False,
    otlp_token_file: Annotated[
        Path | None,
        typer.Option(
            help="File holding a bearer token the collector's OTLP receivers then require "
            "(senders: OTEL_EXPORTER_OTLP_HEADERS=Authorization=Bearer%20<token>).",
        ),
    ] = None,
) -> None:
    """Build what is missing, start every component on 127.0.0.1 and wait until each is ready."""
    if generated_routing and alertmanager_config is not None:
        typer.echo("give either --alertmanager-config or --generated-routing", err=True)
        raise typer.Exit(2)
    if otlp_token_file is not None and not otlp_token_file.is_file():
        typer.echo(f"--otlp-token-file={otlp_token_file}: no such file", err=True)
        raise typer.Exit(2)
    state = Stack(state_dir)  # the ports a running (or earlier) stack in this folder uses
    ports = StackPorts.free() if free_ports else state.ports
    routing = None
    if generated_routing:
        routing = local_alert_routing(ports)
        routing = replace(
            routing,
            slack_url=slack_url or routing.slack_url,
            pagerduty_url=pagerduty_url or routing.pagerduty_url,
            pagerduty_routing_key=pagerduty_routing_key or routing.pagerduty_routing_key,
        )
    options = StackOptions(
        rule_files=tuple(rules or ()),
        alertmanager_config=alertmanager_config,
        generated_alert_routing=routing,
        redis_endpoint=redis_endpoint,
        lifecycle_api=enable_lifecycle_api,
        remote_write_receiver=enable_remote_write,
        otlp_token_file=otlp_token_file,
    )
    stack = Stack(state_dir, ports, options=options)
    try:
        stack.up(build=build, timeout=timeout, echo=typer.echo)
    except (StackError, BinaryNotFound, RuntimeError) as exc:
        typer.echo(f"stack up failed: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo("")
    _print_status(stack)
    if routing is not None:
        typer.echo(
            f"\nAlerts: generated routing; pages -> PagerDuty ({_shown(routing.pagerduty_url)}) + Slack, "
            f"tickets -> Slack + e-mail; Slack webhook {_shown(routing.slack_url)}"
        )
    where = "" if state_dir == DEFAULT_STATE_DIR else f" --state-dir {state_dir}"
    typer.echo(
        f"\nSend telemetry with OTEL_EXPORTER_OTLP_ENDPOINT={stack.otlp_http_endpoint} "
        f"OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf; stop with `otel-secretary stack down{where}`."
    )


@app.command()
def down(state_dir: StateDir = DEFAULT_STATE_DIR) -> None:
    """Stop the processes this state folder started (verified by pid and command line)."""
    stopped = Stack(state_dir).down()
    typer.echo(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")


@app.command()
def status(
    state_dir: StateDir = DEFAULT_STATE_DIR,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Show each component's state, memory and endpoints; exit code 1 unless all are running."""
    stack = Stack(state_dir)
    if as_json:
        items = [asdict(item) | {"log": str(item.log)} for item in stack.status()]
        losses, unavailable = _losses(stack)
        report = {
            "components": items,
            "telemetry_lost": [asdict(loss) for loss in losses],
            "not_asked": unavailable,
        }
        typer.echo(json.dumps(report, indent=2))
        all_running = all(item["running"] for item in items)
    else:
        all_running = _print_status(stack)
    if not all_running:
        raise typer.Exit(1)


@app.command()
def logs(
    name: Annotated[str | None, typer.Argument(help="One component; all when omitted.")] = None,
    state_dir: StateDir = DEFAULT_STATE_DIR,
    lines: Annotated[int, typer.Option("--lines", "-n")] = 40,
) -> None:
    """Print the last lines of a component's log (they live in <state-dir>/logs/)."""
    stack = Stack(state_dir)
    names = [name] if name else [c.name for c in COMPONENTS]
    for each in names:
        try:
            text = stack.logs(each, lines)
        except KeyError as exc:
            typer.echo(exc.args[0], err=True)
            raise typer.Exit(2) from exc
        typer.echo(f"==> {stack.log_path(each)} <==\n{text}\n")
