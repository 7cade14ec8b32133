"""Locating the stack's programs and choosing its ports."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import pytest

from otel_secretary.stack import StackPorts
from otel_secretary.stack.binaries import BIN_DIR_ENV, BinaryNotFound, find, missing


def test_go_tools_are_found_only_in_the_configured_bin_dir(tmp_path: Path) -> None:
    env = {BIN_DIR_ENV: str(tmp_path)}
    with pytest.raises(BinaryNotFound, match=r"build-go-tools\.sh"):
        find("jaeger", env)
    tool = tmp_path / "jaeger"
    tool.write_text("#!/bin/sh\n")
    with pytest.raises(BinaryNotFound):  # present but not executable
        find("jaeger", env)
    tool.chmod(0o755)
    assert find("jaeger", env) == tool
    assert missing(["jaeger", "otelcol-secretary"], env) == ["otelcol-secretary"]


def test_system_tools_come_from_path_under_their_debian_names() -> None:
    try:
        alertmanager = find("alertmanager")
    except BinaryNotFound as exc:
        pytest.skip(str(exc))
    assert alertmanager.name in {"prometheus-alertmanager", "alertmanager"}
    with pytest.raises(BinaryNotFound, match=r"install-system-packages\.sh"):
        find("no-such-program-anywhere")


def test_free_ports_are_distinct_and_survive_a_save_load_round_trip(tmp_path: Path) -> None:
    ports = StackPorts.free(alert_webhook=12345)
    values = list(asdict(ports).values())
    assert len(set(values)) == len(values)
    assert ports.alert_webhook == 12345
    ports.save(tmp_path / "ports.json")
    assert StackPorts.load(tmp_path / "ports.json") == ports
    assert ports.remapping()[4317] == ports.otlp_grpc
