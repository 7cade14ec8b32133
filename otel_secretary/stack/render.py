"""Renders the shipped single-node configs (collector-config/) into a stack's state folder.

The shipped files are real, directly usable configs on the default ports (docker-compose.yml mounts them as
they are). An isolated stack rewrites every ``127.0.0.1:<default port>`` to its own port and applies a few
structured overrides (shorter intervals in tests, extra rule files, another Alertmanager config), so there is
one source of truth for what the stack runs.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from otel_secretary.rules.render import AlertmanagerOptions, render_alertmanager
from otel_secretary.stack import spanmetrics
from otel_secretary.stack.ports import StackPorts

_LOOPBACK_ADDRESS = re.compile(r"\b127\.0\.0\.1:(\d+)\b")
# Relative to the config folder: the repository's generated/ tree (`make generate`).
PII_REDACTION_FILE = Path("..") / "generated" / "pii-redaction.yaml"
REDIS_OVERLAY_FILE = Path("otelcol.redis.yaml")


@dataclass(frozen=True)
class StackOptions:
    """Knobs an isolated stack may turn; ``None`` keeps the shipped value."""

    scrape_interval: str | None = None
    evaluation_interval: str | None = None
    # Extra Prometheus rule files (globs allowed) besides the generated ones.
    rule_files: Sequence[Path] = ()
    # Evaluate the generated rule groups this often instead of their own interval (1m): a test stack
    # cannot wait minutes for the first evaluation. The groups are then copied into the state folder.
    rule_group_interval: str | None = None
    alertmanager_config: Path | None = None
    # Route alerts with the generated routing (`otel-secretary rules alertmanager`: pages to PagerDuty +
    # Slack, tickets to Slack + e-mail, pages inhibit tickets) instead of the one-webhook alertmanager.yml.
    # The receivers' URLs come from here; see ``local_alert_routing`` for a stack that keeps them local.
    generated_alert_routing: AlertmanagerOptions | None = None
    alertmanager_group_wait: str | None = None
    alertmanager_group_interval: str | None = None
    # Merged over otelcol.yaml as one more --config (e.g. {"connectors": {"span_metrics": {...}}}).
    collector_overrides: Mapping[str, Any] = field(default_factory=dict)
    # Jaeger v2 accepts the same overlay mechanism.
    jaeger_overrides: Mapping[str, Any] = field(default_factory=dict)
    # Closed by default: any local process could otherwise write series into Prometheus (remote-write
    # receiver) or reload/stop it (lifecycle API: /-/reload, /-/quit). The scaling topology's gateways
    # remote-write, so its test asks for the receiver.
    remote_write_receiver: bool = False
    lifecycle_api: bool = False
    # A file holding a bearer token: the collector's OTLP receivers then refuse requests without
    # ``Authorization: Bearer <token>`` (bearertokenauth extension). Senders set
    # OTEL_EXPORTER_OTLP_HEADERS=Authorization=Bearer%20<token>.
    otlp_token_file: Path | None = None
    # host:port of a Redis whose health the collector scrapes (otelcol.redis.yaml); None leaves it out.
    redis_endpoint: str | None = None


def local_alert_routing(ports: StackPorts) -> AlertmanagerOptions:
    """The generated routing with its PagerDuty and Slack receivers on the stack's local alert port
    (paths /pagerduty, /slack), so trying the real routing on a laptop pages nobody. E-mail keeps the
    generator's localhost:25 smarthost and example.com addresses."""
    base = f"http://127.0.0.1:{ports.alert_webhook}"
    return AlertmanagerOptions(
        slack_url=f"{base}/slack",
        pagerduty_url=f"{base}/pagerduty",
        pagerduty_routing_key="local-stack-routing-key",
    )


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
    """Owner-only (0600): the rendered Alertmanager config holds the Slack URL and PagerDuty key, an
    overlay may hold a token; a file that exists already is narrowed before it is rewritten."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(yaml.safe_dump(data, sort_keys=False))
    return path


def private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) and make it owner-only (0700), whoever created it first."""
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    return path


def _otlp_auth(token_file: Path, base: Any) -> dict[str, Any]:
    """Overlay that puts bearer-token auth on both OTLP receivers; the token stays in its own file."""
    auth = {"auth": {"authenticator": "bearertokenauth/otlp"}}
    extensions = list((base.get("service") or {}).get("extensions") or [])
    return {
        "extensions": {"bearertokenauth/otlp": {"filename": str(token_file.resolve())}},
        "receivers": {"otlp": {"protocols": {"grpc": auth, "http": auth}}},
        # A list in an overlay replaces the base list: repeat the shipped extensions.
        "service": {"extensions": [*extensions, "bearertokenauth/otlp"]},
    }


def _rule_files(config_dir: Path, patterns: Sequence[str], out: Path, interval: str | None) -> list[str]:
    """Absolute rule paths (relative ones are relative to the shipped prometheus.yml). With ``interval``,
    every matched file is copied into ``out`` with each group's interval replaced."""
    resolved = [str((config_dir / p).resolve()) for p in patterns]
    if interval is None:
        return resolved
    shutil.rmtree(out, ignore_errors=True)  # no stale copies of a rule file removed since the last `up`
    private_dir(out)
    copies = []
    for pattern in resolved:
        for source in sorted(glob.glob(pattern)):
            document = yaml.safe_load(Path(source).read_text()) or {}
            for group in document.get("groups") or []:
                group["interval"] = interval
            copies.append(str(_dump(document, out / Path(source).name)))
    return copies


def _override_route_timing(route: dict[str, Any], key: str, value: str | None, *, top: bool = True) -> None:
    # Child routes of the generated routing set their own group_wait (pages: 10s); a test stack shortens all.
    if value is None:
        return
    if top or key in route:
        route[key] = value
    for child in route.get("routes") or []:
        _override_route_timing(child, key, value, top=False)


def render(config_dir: Path, state_dir: Path, ports: StackPorts, options: StackOptions) -> RenderedConfigs:
    mapping = ports.remapping()
    out = private_dir(state_dir / "config")

    base_collector = _remap_yaml(config_dir / "otelcol.yaml", mapping)
    collector = [_dump(base_collector, out / "otelcol.yaml")]
    pii = config_dir / PII_REDACTION_FILE
    if pii.is_file():
        collector.append(_dump(_remap_yaml(pii, mapping), out / "pii-redaction.yaml"))
    # From the registry itself, not the generated copy: the stack's buckets cannot go stale.
    collector.append(_dump(spanmetrics.fragment(), out / spanmetrics.FILE_NAME))
    if options.redis_endpoint:
        redis = yaml.safe_load((config_dir / REDIS_OVERLAY_FILE).read_text())
        redis["receivers"]["redis"]["endpoint"] = options.redis_endpoint
        collector.append(_dump(redis, out / "otelcol.redis.yaml"))
    if options.otlp_token_file is not None:
        if not options.otlp_token_file.is_file():
            raise ValueError(f"--otlp-token-file {options.otlp_token_file}: no such file")
        auth = _otlp_auth(options.otlp_token_file, base_collector)
        collector.append(_dump(auth, out / "otelcol.auth.yaml"))
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
    rule_files = _rule_files(
        config_dir, prometheus.get("rule_files") or [], out / "rules", options.rule_group_interval
    )
    rule_files += [str(Path(p).resolve()) for p in options.rule_files]
    prometheus["rule_files"] = rule_files

    if options.generated_alert_routing is not None:
        if options.alertmanager_config is not None:
            raise ValueError("give either an Alertmanager config file or the generated routing, not both")
        alertmanager = render_alertmanager(options.generated_alert_routing)
    else:
        alertmanager_source = options.alertmanager_config or config_dir / "alertmanager.yml"
        alertmanager = _remap_yaml(alertmanager_source, mapping)
    route = alertmanager.setdefault("route", {})
    _override_route_timing(route, "group_wait", options.alertmanager_group_wait)
    _override_route_timing(route, "group_interval", options.alertmanager_group_interval)

    return RenderedConfigs(
        collector=collector,
        jaeger=jaeger,
        prometheus=_dump(prometheus, out / "prometheus.yml"),
        alertmanager=_dump(alertmanager, out / "alertmanager.yml"),
    )
