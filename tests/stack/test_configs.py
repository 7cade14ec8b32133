"""The shipped single-node configs, and their rendering for an isolated stack on other ports."""

from __future__ import annotations

import glob
import os
import re
import subprocess
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest
import yaml

from otel_secretary import semconv
from otel_secretary.rules import promql
from otel_secretary.stack import StackOptions, StackPorts, spanmetrics
from otel_secretary.stack.binaries import BinaryNotFound, find, repo_root
from otel_secretary.stack.render import local_alert_routing, remap_ports, render

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
        str(repo_root() / "generated" / "collector" / "*.rules.yml"),
        str(rule.resolve()),
    ]
    assert yaml.safe_load(rendered.alertmanager.read_text())["route"]["group_wait"] == "1s"
    assert yaml.safe_load(rendered.collector[-1].read_text()) == options.collector_overrides


def test_prometheus_loads_exactly_the_collector_flavour_of_the_generated_rules() -> None:
    """The spanmetrics flavour only: the sdk/ flavour states the same alerts again (double pages)."""
    shipped = yaml.safe_load((CONFIG_DIR / "prometheus.yml").read_text())
    matched = {
        Path(p).resolve() for pattern in shipped["rule_files"] for p in glob.glob(str(CONFIG_DIR / pattern))
    }
    generated = repo_root() / "generated"
    assert matched == set((generated / "collector").glob("*.rules.yml"))
    assert len(matched) >= 10


def test_rule_group_interval_override_copies_the_groups_into_the_state_folder(tmp_path: Path) -> None:
    state = tmp_path / "state"
    (state / "config" / "rules").mkdir(parents=True)
    (state / "config" / "rules" / "Removed.rules.yml").write_text("groups: []\n")  # from an earlier up
    rendered = render(CONFIG_DIR, state, StackPorts.free(), StackOptions(rule_group_interval="2s"))
    rule_files = yaml.safe_load(rendered.prometheus.read_text())["rule_files"]
    sources = sorted((repo_root() / "generated" / "collector").glob("*.rules.yml"))
    assert rule_files == [str(state.resolve() / "config" / "rules" / p.name) for p in sources]
    for source, copy in zip(sources, rule_files, strict=True):
        original, rewritten = yaml.safe_load(source.read_text()), yaml.safe_load(Path(copy).read_text())
        assert {g["interval"] for g in rewritten["groups"]} == {"2s"}
        for group in (*original["groups"], *rewritten["groups"]):
            del group["interval"]
        assert rewritten == original  # nothing but the interval changed


def test_redis_receiver_is_added_only_when_a_redis_endpoint_is_given(tmp_path: Path) -> None:
    plain = render(CONFIG_DIR, tmp_path / "a", StackPorts.free(), StackOptions())
    merged: dict[str, Any] = {}
    for path in plain.collector:
        _merge(merged, yaml.safe_load(path.read_text()))
    assert "redis" not in merged["receivers"]
    assert merged["service"]["pipelines"]["metrics/host"]["receivers"] == ["hostmetrics"]

    with_redis = render(
        CONFIG_DIR, tmp_path / "b", StackPorts.free(), StackOptions(redis_endpoint="127.0.0.1:6390")
    )
    merged = {}
    for path in with_redis.collector:
        _merge(merged, yaml.safe_load(path.read_text()))
    assert merged["receivers"]["redis"]["endpoint"] == "127.0.0.1:6390"
    assert merged["service"]["pipelines"]["metrics/host"]["receivers"] == ["hostmetrics", "redis"]


def test_span_metrics_buckets_come_from_the_registry_into_every_collector_that_computes_them(
    tmp_path: Path,
) -> None:
    """One list (semconv): the stack merges it from the registry, compose and the gateways from generated/."""
    rendered = render(CONFIG_DIR, tmp_path, StackPorts.free(), StackOptions())
    merged: dict[str, Any] = {}
    for path in rendered.collector:
        _merge(merged, yaml.safe_load(path.read_text()))
    buckets = merged["connectors"]["span_metrics"]["histogram"]["explicit"]["buckets"]

    def millis(text: str) -> float:
        number, unit = re.fullmatch(r"(\d+)(ms|s)", text).groups()  # type: ignore[union-attr]
        return float(number) * (1000 if unit == "s" else 1)

    assert tuple(millis(b) for b in buckets) == semconv.SPAN_METRICS_BUCKETS_MS
    assert promql.STACK_SPANMETRICS_BUCKETS_MS == semconv.SPAN_METRICS_BUCKETS_MS
    assert merged["connectors"]["span_metrics"]["histogram"]["unit"] == "s"  # the base file's keys survive
    # No config writes a list of its own; the ones outside the stack merge the generated file.
    for shipped in ("otelcol.yaml", "scaling/gateway.yaml"):
        config = yaml.safe_load((CONFIG_DIR / shipped).read_text())
        assert "explicit" not in config["connectors"]["span_metrics"]["histogram"], shipped
    compose = (CONFIG_DIR / "docker-compose.yml").read_text()
    assert "--config=/etc/otelcol/generated/otelcol-spanmetrics.yaml" in compose
    mount = "../generated/otelcol-spanmetrics.yaml:/etc/otelcol/generated/otelcol-spanmetrics.yaml:ro"
    assert mount in compose
    generated = yaml.safe_load((CONFIG_DIR.parent / "generated" / "otelcol-spanmetrics.yaml").read_text())
    assert generated == spanmetrics.fragment(), "generated/ is stale: run `make generate`"
    # The Collector's own merge of the stack's --config files ends with the registry's buckets.
    printed = subprocess.run(
        [str(_tool("otelcol-secretary")), "print-config", *(f"--config={p}" for p in rendered.collector)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    effective = yaml.safe_load(printed.stdout)["connectors"]["span_metrics"]["histogram"]["explicit"]
    assert effective["buckets"] == buckets


def _merge(into: dict[str, Any], overlay: dict[str, Any]) -> None:
    """The collector's own rule for several --config files: maps merge, everything else is replaced."""
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value


def test_generated_alert_routing_sends_pages_to_local_receivers_with_test_timing(tmp_path: Path) -> None:
    ports = StackPorts.free()
    options = StackOptions(
        generated_alert_routing=local_alert_routing(ports),
        alertmanager_group_wait="1s",
        alertmanager_group_interval="2s",
    )
    config = yaml.safe_load(render(CONFIG_DIR, tmp_path, ports, options).alertmanager.read_text())
    # The generator's routing and inhibition, untouched apart from the receivers' URLs and timing.
    generated = yaml.safe_load((repo_root() / "generated" / "alertmanager.yml").read_text())
    assert config["inhibit_rules"] == generated["inhibit_rules"]
    assert [r.get("matchers") for r in config["route"]["routes"]] == [
        r.get("matchers") for r in generated["route"]["routes"]
    ]
    local = f"http://127.0.0.1:{ports.alert_webhook}"
    assert config["global"]["pagerduty_url"] == f"{local}/pagerduty"
    receivers = {r["name"]: r for r in config["receivers"]}
    assert receivers["slack-pages"]["slack_configs"][0]["api_url"] == f"{local}/slack"
    assert receivers["pagerduty"]["pagerduty_configs"][0]["routing_key"] == "local-stack-routing-key"
    route = config["route"]
    assert route["group_wait"] == "1s" and route["group_interval"] == "2s"
    # Child routes that set their own wait (pages: 10s) are shortened too; the others inherit.
    assert [r.get("group_wait") for r in route["routes"]] == [
        "1s" if "group_wait" in r else None for r in generated["route"]["routes"]
    ]
    with pytest.raises(ValueError, match="not both"):
        render(
            CONFIG_DIR,
            tmp_path,
            ports,
            StackOptions(generated_alert_routing=local_alert_routing(ports), alertmanager_config=Path("x")),
        )


@pytest.mark.parametrize("routing", ["minimal", "generated"])
def test_rendered_prometheus_and_alertmanager_configs_pass_their_own_checkers(
    tmp_path: Path, routing: str
) -> None:
    ports = StackPorts.free()
    options = StackOptions(
        scrape_interval="2s",
        rule_group_interval="2s",
        generated_alert_routing=local_alert_routing(ports) if routing == "generated" else None,
    )
    rendered = render(CONFIG_DIR, tmp_path, ports, options)
    promtool, amtool = _tool("promtool"), _tool("amtool")
    # Without --syntax-only promtool also loads every rule file the config names.
    for argv in (
        [str(promtool), "check", "config", str(rendered.prometheus)],
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
    with_redis = render(
        CONFIG_DIR, tmp_path / "redis", StackPorts.free(), StackOptions(redis_endpoint="127.0.0.1:6390")
    )
    for binary, configs in (
        (_tool("otelcol-secretary"), rendered.collector),
        (_tool("otelcol-secretary"), with_redis.collector),
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


def _mounts(service: dict[str, Any]) -> dict[str, tuple[Path, str]]:
    """Container path -> (host path, mode) of a compose service's bind mounts."""
    result = {}
    for volume in service.get("volumes", []):
        host, container, *mode = volume.split(":")
        result[container] = ((CONFIG_DIR / host).resolve(), mode[0] if mode else "rw")
    return result


def test_compose_prometheus_finds_the_generated_rules_inside_its_container() -> None:
    """prometheus.yml names its rules relative to itself; in the container that path must be a mount of
    the generated collector rules."""
    service = yaml.safe_load((CONFIG_DIR / "docker-compose.yml").read_text())["services"]["prometheus"]
    mounts = _mounts(service)
    config_file = next(a.split("=", 1)[1] for a in service["command"] if a.startswith("--config.file="))
    shipped = yaml.safe_load((CONFIG_DIR / "prometheus.yml").read_text())
    for pattern in shipped["rule_files"]:
        in_container = Path(config_file).parent / pattern
        folder = str(Path(os.path.normpath(in_container)).parent)
        assert mounts[folder] == ((CONFIG_DIR / pattern).resolve().parent, "ro"), folder


def test_compose_grafana_is_provisioned_read_only_with_the_generated_dashboards() -> None:
    compose = yaml.safe_load((CONFIG_DIR / "docker-compose.yml").read_text())
    grafana = compose["services"]["grafana"]
    assert grafana["image"].startswith("grafana/grafana-oss:")
    assert grafana["network_mode"] == "host"
    env = grafana["environment"]
    assert env["GF_SERVER_HTTP_ADDR"] == "127.0.0.1"
    # The password comes from the environment; the fallback is only for a local run.
    assert re.fullmatch(r"\$\{GRAFANA_ADMIN_PASSWORD:-[^}]+\}", env["GF_SECURITY_ADMIN_PASSWORD"])
    mounts = _mounts(grafana)
    assert mounts["/etc/grafana/provisioning"] == ((CONFIG_DIR / "grafana" / "provisioning").resolve(), "ro")
    # The dashboard provider reads the folder the generated dashboards are mounted at.
    provider = yaml.safe_load(
        (CONFIG_DIR / "grafana" / "provisioning" / "dashboards" / "otel-secretary.yaml").read_text()
    )["providers"][0]
    dashboards_mount = mounts[provider["options"]["path"]]
    assert dashboards_mount == ((repo_root() / "generated" / "dashboards").resolve(), "ro")
    assert list((repo_root() / "generated" / "dashboards").glob("*.json"))
    datasource = yaml.safe_load(
        (CONFIG_DIR / "grafana" / "provisioning" / "datasources" / "prometheus.yaml").read_text()
    )["datasources"][0]
    assert datasource["url"] == f"http://127.0.0.1:{StackPorts().prometheus}"


def test_compose_collector_reads_host_metrics_from_the_host() -> None:
    otelcol = yaml.safe_load((CONFIG_DIR / "docker-compose.yml").read_text())["services"]["otelcol"]
    assert _mounts(otelcol)["/hostfs"] == (Path("/"), "ro")
    assert "--config=yaml:receivers::hostmetrics::root_path: /hostfs" in otelcol["command"]


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
