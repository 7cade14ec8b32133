"""The local stack is closed by default: owner-only state, no lifecycle API, no remote-write receiver,
and optional bearer-token auth on the collector's OTLP receivers. Checked on the real programs."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from otel_secretary.stack import StackOptions, StackPorts
from otel_secretary.stack.binaries import BinaryNotFound, find, repo_root
from otel_secretary.stack.components import COMPONENTS
from otel_secretary.stack.render import RenderedConfigs, local_alert_routing, render
from tests.support.processes import Proc

CONFIG_DIR = repo_root() / "collector-config"


def _tool(name: str) -> Path:
    try:
        return find(name)
    except BinaryNotFound as exc:
        pytest.skip(str(exc))


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _argv(name: str, binary: Path, state: Path, ports: StackPorts, options: StackOptions) -> list[str]:
    component = next(c for c in COMPONENTS if c.name == name)
    configs = render(CONFIG_DIR, state, ports, options)
    (state / "data").mkdir(exist_ok=True)
    return component.argv(binary, configs, ports, state / "data", options)


@contextmanager
def running(name: str, argv: list[str], logs: Path, ready: str) -> Iterator[Proc]:
    proc = Proc(name, argv, dict(os.environ), logs)
    try:
        proc.wait_http(ready, 60)
        yield proc
    finally:
        proc.stop()


def test_rendered_configs_are_owner_only_even_when_they_existed(tmp_path: Path) -> None:
    state, ports = tmp_path / "state", StackPorts.free()
    (state / "config").mkdir(parents=True, mode=0o755)
    stale = state / "config" / "alertmanager.yml"
    stale.write_text("old: world-readable\n")
    stale.chmod(0o644)
    options = StackOptions(generated_alert_routing=local_alert_routing(ports), rule_group_interval="5s")
    configs = render(CONFIG_DIR, state, ports, options)
    assert _mode(state / "config") == 0o700
    assert _mode(state / "config" / "rules") == 0o700
    written = [*configs.collector, *configs.jaeger, configs.prometheus, configs.alertmanager]
    written += list((state / "config" / "rules").iterdir())
    assert written and all(_mode(p) == 0o600 for p in written), {str(p): oct(_mode(p)) for p in written}
    assert "local-stack-routing-key" in configs.alertmanager.read_text()  # the secret-bearing file


def test_prometheus_flags_are_off_unless_asked() -> None:
    ports, binary = StackPorts(), Path("/usr/bin/prometheus")
    component = next(c for c in COMPONENTS if c.name == "prometheus")
    configs = RenderedConfigs([], [], Path("p.yml"), Path("a.yml"))
    closed = component.argv(binary, configs, ports, Path("data"), StackOptions())
    assert "--web.enable-lifecycle" not in closed and "--web.enable-remote-write-receiver" not in closed
    opened = component.argv(
        binary, configs, ports, Path("data"), StackOptions(lifecycle_api=True, remote_write_receiver=True)
    )
    assert "--web.enable-lifecycle" in opened and "--web.enable-remote-write-receiver" in opened


def test_real_prometheus_refuses_reload_quit_and_remote_write_by_default(tmp_path: Path) -> None:
    binary = _tool("prometheus")
    ports = StackPorts.free()
    state = tmp_path / "state"
    argv = _argv("prometheus", binary, state, ports, StackOptions())
    url = f"http://127.0.0.1:{ports.prometheus}"
    with running("prometheus", argv, tmp_path, f"{url}/-/ready") as proc:
        reload = httpx.post(f"{url}/-/reload", timeout=5)
        quit_ = httpx.post(f"{url}/-/quit", timeout=5)
        write = httpx.post(f"{url}/api/v1/write", content=b"x", timeout=5)
        assert reload.status_code == 403 and "not enabled" in reload.text.lower(), reload.text
        assert quit_.status_code == 403, quit_.text
        assert write.status_code == 404 and "remote write receiver" in write.text.lower(), write.text
        assert httpx.get(f"{url}/-/ready", timeout=5).status_code == 200
        assert proc.popen.poll() is None  # /-/quit did not stop it


def test_real_prometheus_opens_them_on_request(tmp_path: Path) -> None:
    binary = _tool("prometheus")
    ports = StackPorts.free()
    options = StackOptions(lifecycle_api=True, remote_write_receiver=True)
    argv = _argv("prometheus", binary, tmp_path / "state", ports, options)
    url = f"http://127.0.0.1:{ports.prometheus}"
    with running("prometheus", argv, tmp_path, f"{url}/-/ready"):
        assert httpx.post(f"{url}/-/reload", timeout=10).status_code == 200
        # Reached the receiver: it rejects the body (not snappy protobuf), not the route.
        assert httpx.post(f"{url}/api/v1/write", content=b"x", timeout=5).status_code == 400


def test_collector_otlp_bearer_token_on_request(tmp_path: Path) -> None:
    binary = _tool("otelcol-secretary")
    token_file = tmp_path / "otlp-token"
    token_file.write_text("synthetic-test-token-0001\n")
    token_file.chmod(0o600)
    ports = StackPorts.free()
    argv = _argv("otelcol", binary, tmp_path / "state", ports, StackOptions(otlp_token_file=token_file))
    url = f"http://127.0.0.1:{ports.otlp_http}/v1/traces"
    body, json_type = b'{"resourceSpans":[]}', {"Content-Type": "application/json"}
    with running("otelcol", argv, tmp_path, f"http://127.0.0.1:{ports.collector_health}/"):
        assert httpx.post(url, content=body, headers=json_type, timeout=5).status_code == 401
        wrong = {**json_type, "Authorization": "Bearer not-the-token"}
        assert httpx.post(url, content=body, headers=wrong, timeout=5).status_code == 401
        right = {**json_type, "Authorization": "Bearer synthetic-test-token-0001"}
        assert httpx.post(url, content=body, headers=right, timeout=5).status_code == 200
    assert _mode(tmp_path / "state" / "config" / "otelcol.auth.yaml") == 0o600
    assert "synthetic-test-token" not in (tmp_path / "state" / "config" / "otelcol.auth.yaml").read_text()
