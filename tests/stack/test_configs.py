"""The shipped single-node configs, and their rendering for an isolated stack on other ports."""

from __future__ import annotations

import re
import subprocess
from dataclasses import fields
from pathlib import Path

import pytest
import yaml

from otel_secretary.stack import StackOptions, StackPorts
from otel_secretary.stack.binaries import BinaryNotFound, find, repo_root
from otel_secretary.stack.render import remap_ports, render

CONFIG_DIR = repo_root() / "collector-config"
SHIPPED = ["otelcol.yaml", "jaeger.yaml", "prometheus.yml", "alertmanager.yml"]


def _tool(name: str) -> Path:
    try:
        return find(name)
    except BinaryNotFound as exc:
        pytest.skip(str(exc))


def _shipped_text() -> str:
    return "\n".join((CONFIG_DIR / name).read_text() for name in SHIPPED)


def test_every_default_port_appears_in_the_shipped_configs() -> None:
    """The port table and the files agree, so rendering really moves every socket."""
    text = _shipped_text()
    defaults = StackPorts()
    for field in fields(defaults):
        port = getattr(defaults, field.name)
        assert re.search(rf"(127\.0\.0\.1:{port}\b|port: {port}\b)", text), (field.name, port)


def test_shipped_configs_listen_on_loopback_only() -> None:
    text = _shipped_text()
    assert "0.0.0.0" not in text
    assert re.findall(r"endpoint: (\S+)", text)
    for endpoint in re.findall(r"endpoint: (\S+)", text):
        assert endpoint.startswith("127.0.0.1:"), endpoint


def test_remap_ports_rewrites_only_known_loopback_ports() -> None:
    text = "a: 127.0.0.1:4317\nb: 127.0.0.1:43170\nc: example.org:4317\nd: 127.0.0.1:4318"
    assert remap_ports(text, {4317: 5000, 4318: 5001}) == (
        "a: 127.0.0.1:5000\nb: 127.0.0.1:43170\nc: example.org:4317\nd: 127.0.0.1:5001"
    )


def test_rendered_configs_use_only_the_isolated_ports(tmp_path: Path) -> None:
    ports = StackPorts.free()
    rule = tmp_path / "extra.yml"
    rule.write_text("groups: []\n")
    options = StackOptions(
        scrape_interval="1s",
        evaluation_interval="1s",
        rule_files=[rule],
        alertmanager_group_wait="1s",
        collector_overrides={"connectors": {"span_metrics": {"metrics_flush_interval": "1s"}}},
    )
    rendered = render(CONFIG_DIR, tmp_path, ports, options)
    files = [*rendered.collector, *rendered.jaeger, rendered.prometheus, rendered.alertmanager]
    text = "\n".join(p.read_text() for p in files)
    used = {int(p) for p in re.findall(r"127\.0\.0\.1:(\d+)", text)}
    used |= {int(p) for p in re.findall(r"port: (\d+)", text)}
    assert used <= set(vars(ports).values())
    assert {ports.otlp_grpc, ports.jaeger_otlp_grpc, ports.app_metrics, ports.alert_webhook} <= used

    prometheus = yaml.safe_load(rendered.prometheus.read_text())
    assert prometheus["global"] == {"scrape_interval": "1s", "evaluation_interval": "1s"}
    assert prometheus["rule_files"] == [
        str(repo_root() / "rules" / "generated" / "prometheus" / "*.yml"),
        str(rule.resolve()),
    ]
    assert yaml.safe_load(rendered.alertmanager.read_text())["route"]["group_wait"] == "1s"
    assert yaml.safe_load(rendered.collector[-1].read_text()) == options.collector_overrides


def test_rendered_prometheus_and_alertmanager_configs_pass_their_own_checkers(tmp_path: Path) -> None:
    rendered = render(CONFIG_DIR, tmp_path, StackPorts.free(), StackOptions(scrape_interval="2s"))
    promtool, amtool = _tool("promtool"), _tool("amtool")
    for argv in (
        [str(promtool), "check", "config", "--syntax-only", str(rendered.prometheus)],
        [str(amtool), "check-config", str(rendered.alertmanager)],
    ):
        result = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stdout + result.stderr


def test_rendered_collector_and_jaeger_configs_validate_with_the_real_binaries(tmp_path: Path) -> None:
    rendered = render(
        CONFIG_DIR,
        tmp_path,
        StackPorts.free(),
        StackOptions(collector_overrides={"processors": {"tail_sampling": {"decision_wait": "1s"}}}),
    )
    for binary, configs in (
        (_tool("otelcol-secretary"), rendered.collector),
        (_tool("jaeger"), rendered.jaeger),
    ):
        argv = [str(binary), "validate"]
        for path in configs:
            argv += ["--config", str(path)]
        result = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stdout + result.stderr


def test_a_broken_collector_config_is_rejected_by_validate(tmp_path: Path) -> None:
    """Guards the test above: validate really checks the pipeline, it does not just parse YAML."""
    broken = tmp_path / "otelcol.yaml"
    broken.write_text(
        (CONFIG_DIR / "otelcol.yaml").read_text().replace("[otlp_grpc/jaeger]", "[otlp_grpc/nope]")
    )
    result = subprocess.run(
        [str(_tool("otelcol-secretary")), "validate", "--config", str(broken)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "otlp_grpc/nope" in result.stdout + result.stderr


def test_docker_compose_mounts_the_very_files_the_local_stack_runs() -> None:
    compose = yaml.safe_load((CONFIG_DIR / "docker-compose.yml").read_text())
    mounted = {
        (CONFIG_DIR / volume.split(":")[0]).resolve()
        for service in compose["services"].values()
        for volume in service.get("volumes", [])
    }
    for name in SHIPPED:
        assert (CONFIG_DIR / name).resolve() in mounted, name
    assert all(service["network_mode"] == "host" for service in compose["services"].values())
    # The image is built from the same manifest the build script uses.
    dockerfile = (CONFIG_DIR / compose["services"]["otelcol"]["build"]["dockerfile"]).read_text()
    assert "COPY builder-config.yaml" in dockerfile


def test_builder_manifest_pins_every_module_to_one_release() -> None:
    manifest = yaml.safe_load((CONFIG_DIR / "builder-config.yaml").read_text())
    versions = {
        entry["gomod"].split()[1]
        for kind in ("receivers", "processors", "exporters", "connectors", "extensions")
        for entry in manifest[kind]
    }
    assert versions == {"v0.161.0"}
    assert {e["gomod"].split()[1] for e in manifest["providers"]} == {"v1.67.0"}


def test_scaling_gateway_samples_and_derives_metrics_exactly_like_the_single_node_collector() -> None:
    """tests/e2e/test_scaling.py exercises the sampling policy through the gateway; this keeps that
    policy the one the single-node collector ships."""
    single = yaml.safe_load((CONFIG_DIR / "otelcol.yaml").read_text())
    gateway = yaml.safe_load((CONFIG_DIR / "scaling" / "gateway.yaml").read_text())
    assert (
        gateway["processors"]["tail_sampling"]["policies"]
        == single["processors"]["tail_sampling"]["policies"]
    )
    assert (
        gateway["connectors"]["span_metrics"]["histogram"]
        == single["connectors"]["span_metrics"]["histogram"]
    )


def test_scaling_configs_validate_with_the_real_collector() -> None:
    binary = str(_tool("otelcol-secretary"))
    for name in ("agent.yaml", "gateway.yaml"):
        result = subprocess.run(
            [binary, "validate", "--config", str(CONFIG_DIR / "scaling" / name)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, name + result.stdout + result.stderr
