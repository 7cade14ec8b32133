"""Renders the shipped single-node configs (collector-config/) into a stack's state folder.

The shipped files are real, directly usable configs on the default ports (docker-compose.yml mounts them as
they are). An isolated stack rewrites every ``127.0.0.1:<default port>`` to its own port and applies a few
structured overrides (shorter intervals in tests, extra rule files, another Alertmanager config), so there is
one source of truth for what the stack runs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from otel_secretary.stack.ports import StackPorts

_LOOPBACK_ADDRESS = re.compile(r"\b127\.0\.0\.1:(\d+)\b")
PII_REDACTION_FILE = Path("generated") / "pii-redaction.yaml"


@dataclass(frozen=True)
class StackOptions:
    """Knobs an isolated stack may turn; ``None`` keeps the shipped value."""

    scrape_interval: str | None = None
    evaluation_interval: str | None = None
    # Extra Prometheus rule files (globs allowed) besides the generated ones.
    rule_files: Sequence[Path] = ()
    alertmanager_config: Path | None = None
    alertmanager_group_wait: str | None = None
    alertmanager_group_interval: str | None = None
    # Merged over otelcol.yaml as one more --config (e.g. {"connectors": {"span_metrics": {...}}}).
    collector_overrides: Mapping[str, Any] = field(default_factory=dict)
    # Jaeger v2 accepts the same overlay mechanism.
    jaeger_overrides: Mapping[str, Any] = field(default_factory=dict)
    # Accept Prometheus remote write (the scaling topology's gateway writes there).
    remote_write_receiver: bool = True


@dataclass(frozen=True)
class RenderedConfigs:
    collector: list[Path]
    jaeger: list[Path]
    prometheus: Path
    alertmanager: Path


def remap_ports(text: str, mapping: Mapping[int, int]) -> str:
    """Rewrite ``127.0.0.1:<port>`` for every port in ``mapping``; other addresses stay untouched."""

    def swap(match: re.Match[str]) -> str:
        port = int(match.group(1))
        return f"127.0.0.1:{mapping.get(port, port)}"

    return _LOOPBACK_ADDRESS.sub(swap, text)


def _remap_yaml(source: Path, mapping: Mapping[int, int]) -> Any:
    # The collector/Jaeger self-telemetry readers give host and port as separate keys.
    data = yaml.safe_load(remap_ports(source.read_text(), mapping))
    _remap_port_keys(data, mapping)
    return data


def _remap_port_keys(node: Any, mapping: Mapping[int, int]) -> None:
    if isinstance(node, dict):
        if node.get("host") == "127.0.0.1" and isinstance(node.get("port"), int):
            node["port"] = mapping.get(node["port"], node["port"])
        for value in node.values():
            _remap_port_keys(value, mapping)
    elif isinstance(node, list):
        for value in node:
            _remap_port_keys(value, mapping)


def _dump(data: Any, path: Path) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def render(config_dir: Path, state_dir: Path, ports: StackPorts, options: StackOptions) -> RenderedConfigs:
    mapping = ports.remapping()
    out = state_dir / "config"
    out.mkdir(parents=True, exist_ok=True)

    collector = [_dump(_remap_yaml(config_dir / "otelcol.yaml", mapping), out / "otelcol.yaml")]
    pii = config_dir / PII_REDACTION_FILE
    if pii.is_file():
        collector.append(_dump(_remap_yaml(pii, mapping), out / "pii-redaction.yaml"))
    if options.collector_overrides:
        collector.append(_dump(dict(options.collector_overrides), out / "otelcol.overrides.yaml"))

    jaeger = [_dump(_remap_yaml(config_dir / "jaeger.yaml", mapping), out / "jaeger.yaml")]
    if options.jaeger_overrides:
        jaeger.append(_dump(dict(options.jaeger_overrides), out / "jaeger.overrides.yaml"))

    prometheus = _remap_yaml(config_dir / "prometheus.yml", mapping)
    glob = prometheus.setdefault("global", {})
    if options.scrape_interval:
        glob["scrape_interval"] = options.scrape_interval
    if options.evaluation_interval:
        glob["evaluation_interval"] = options.evaluation_interval
    # Relative rule paths are relative to the shipped file; the rendered copy lives elsewhere.
    rule_files = [str((config_dir / p).resolve()) for p in prometheus.get("rule_files") or []]
    rule_files += [str(Path(p).resolve()) for p in options.rule_files]
    prometheus["rule_files"] = rule_files

    alertmanager_source = options.alertmanager_config or config_dir / "alertmanager.yml"
    alertmanager = _remap_yaml(alertmanager_source, mapping)
    route = alertmanager.setdefault("route", {})
    if options.alertmanager_group_wait:
        route["group_wait"] = options.alertmanager_group_wait
    if options.alertmanager_group_interval:
        route["group_interval"] = options.alertmanager_group_interval

    return RenderedConfigs(
        collector=collector,
        jaeger=jaeger,
        prometheus=_dump(prometheus, out / "prometheus.yml"),
        alertmanager=_dump(alertmanager, out / "alertmanager.yml"),
    )
