"""Disk and load gauges under the hostmetrics receiver's names, so one alert rule reads both sources."""

from __future__ import annotations

import os

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from otel_secretary.sdk.metrics.host_metrics import register_host_metrics


def test_filesystem_utilization_and_load_average_are_reported() -> None:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    register_host_metrics(provider.get_meter("test"))
    data = reader.get_metrics_data()
    assert data is not None
    points = {
        metric.name: list(metric.data.data_points)
        for rm in data.resource_metrics
        for sm in rm.scope_metrics
        for metric in sm.metrics
    }
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
    provider.shutdown()
