"""The four programs of the single-node stack: how each is started, when it counts as ready, and where a
person or a test reaches it. Start order matters: Jaeger and Alertmanager first, so the collector and
Prometheus find their downstreams listening."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from otel_secretary.stack.ports import StackPorts
from otel_secretary.stack.render import RenderedConfigs
from otel_secretary.stack.render import StackOptions as Opts


@dataclass(frozen=True)
class Component:
    name: str
    binary: str
    argv: Callable[[Path, RenderedConfigs, StackPorts, Path, Opts], list[str]]
    ready_url: Callable[[StackPorts], str]
    endpoints: Callable[[StackPorts], dict[str, str]]


def _url(port: int, path: str = "") -> str:
    return f"http://127.0.0.1:{port}{path}"


def _jaeger_argv(binary: Path, cfg: RenderedConfigs, p: StackPorts, data: Path, o: Opts) -> list[str]:
    argv = [str(binary)]
    for path in cfg.jaeger:
        argv += ["--config", str(path)]
    return argv


def _collector_argv(binary: Path, cfg: RenderedConfigs, p: StackPorts, data: Path, o: Opts) -> list[str]:
    argv = [str(binary)]
    for path in cfg.collector:
        argv += ["--config", str(path)]
    return argv


def _alertmanager_argv(binary: Path, cfg: RenderedConfigs, p: StackPorts, data: Path, o: Opts) -> list[str]:
    return [
        str(binary),
        f"--config.file={cfg.alertmanager}",
        f"--storage.path={data / 'alertmanager'}",
        f"--web.listen-address=127.0.0.1:{p.alertmanager}",
        f"--web.external-url={_url(p.alertmanager)}",
        # An empty address turns gossip clustering off; by default it binds 0.0.0.0:9094 and two stacks clash.
        "--cluster.listen-address=",
    ]


def _prometheus_argv(binary: Path, cfg: RenderedConfigs, p: StackPorts, data: Path, o: Opts) -> list[str]:
    argv = [
        str(binary),
        f"--config.file={cfg.prometheus}",
        f"--storage.tsdb.path={data / 'prometheus'}",
        "--storage.tsdb.retention.time=2d",
        # Keeps the trace ids the collector attaches to span metrics (/api/v1/query_exemplars, Grafana).
        "--enable-feature=exemplar-storage",
        f"--web.listen-address=127.0.0.1:{p.prometheus}",
        f"--web.external-url={_url(p.prometheus)}",
    ]
    if o.lifecycle_api:
        argv.append("--web.enable-lifecycle")
    if o.remote_write_receiver:
        argv.append("--web.enable-remote-write-receiver")
    return argv


COMPONENTS: tuple[Component, ...] = (
    Component(
        "jaeger",
        "jaeger",
        _jaeger_argv,
        lambda p: _url(p.jaeger_ui, "/api/services"),
        lambda p: {
            # A Go-module build has no UI assets (they come from a separate npm build): API only.
            "query API": _url(p.jaeger_ui, "/api/traces?service=<name>"),
            "OTLP gRPC (from the collector)": f"127.0.0.1:{p.jaeger_otlp_grpc}",
        },
    ),
    Component(
        "alertmanager",
        "alertmanager",
        _alertmanager_argv,
        lambda p: _url(p.alertmanager, "/-/ready"),
        lambda p: {"UI + API v2": _url(p.alertmanager)},
    ),
    Component(
        "otelcol",
        "otelcol-secretary",
        _collector_argv,
        lambda p: _url(p.collector_health, "/"),
        lambda p: {
            "OTLP gRPC": f"127.0.0.1:{p.otlp_grpc}",
            "OTLP HTTP": _url(p.otlp_http),
            "health": _url(p.collector_health, "/"),
            "Prometheus exporter": _url(p.collector_prometheus, "/metrics"),
        },
    ),
    Component(
        "prometheus",
        "prometheus",
        _prometheus_argv,
        lambda p: _url(p.prometheus, "/-/ready"),
        lambda p: {"UI + API": _url(p.prometheus)},
    ),
)
