"""Disk and load gauges under the hostmetrics receiver's names, so one alert rule reads both sources."""

from __future__ import annotations

import os

from otel_secretary.sdk.metrics.host_metrics import register_host_metrics
from tests.support.otel_harness import Harness


def test_filesystem_utilization_and_load_average_are_reported(otel: Harness) -> None:
    register_host_metrics(otel.meter_provider.get_meter("test"))
    points = {name: list(metric.data.data_points) for name, metric in otel.metrics().items()}
    filesystems = points["system.filesystem.utilization"]
    assert filesystems, "at least the root file system"
    assert all(0.0 <= p.value <= 1.0 for p in filesystems)
    root = os.statvfs("/")
    used = root.f_blocks - root.f_bfree
    root_share = used / (used + root.f_bavail)  # what `df` shows
    roots = [p for p in filesystems if p.attributes and p.attributes["mountpoint"] == "/"]
    if roots:  # a container may mount / from a file system type we skip (overlay)
        assert abs(roots[0].value - root_share) < 0.05
    assert points["system.cpu.load_average.15m"][0].value == os.getloadavg()[2]
