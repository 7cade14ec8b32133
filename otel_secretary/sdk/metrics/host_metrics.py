"""Disk and load-average gauges the upstream system-metrics instrumentation does not report.

The seed alerted on disk space and load average; with a collector, its ``hostmetrics`` receiver
reports both, but the embedded default has no collector. These gauges use the receiver's names
(``system.filesystem.utilization``, ``system.cpu.load_average.{1m,5m,15m}``), so one alert rule
reads either source. Only local, real file systems are reported (network and pseudo file systems
could block or explode cardinality), capped at :data:`MAX_FILESYSTEMS`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable

from opentelemetry.metrics import CallbackOptions, Meter, Observation

from otel_secretary import semconv
from otel_secretary._internal.self_monitoring import report_internal_error

MAX_FILESYSTEMS = 16
_SKIPPED_TYPES = {
    "nfs",
    "nfs4",
    "cifs",
    "smbfs",
    "sshfs",
    "fuse.sshfs",
    "tmpfs",
    "devtmpfs",
    "squashfs",
    "overlay",
}


def register_host_metrics(meter: Meter) -> None:
    semconv.observable_gauge(meter, semconv.FILESYSTEM_UTILIZATION, [_filesystems])
    for index, instrument in enumerate(semconv.LOAD_AVERAGE.values()):
        semconv.observable_gauge(meter, instrument, [_load(index)])


def _filesystems(_options: CallbackOptions) -> Iterable[Observation]:
    try:
        import psutil

        seen: set[str] = set()
        points: list[Observation] = []
        for part in psutil.disk_partitions(all=False):
            if part.fstype in _SKIPPED_TYPES or part.device in seen or len(points) >= MAX_FILESYSTEMS:
                continue
            seen.add(part.device)
            usage = psutil.disk_usage(part.mountpoint)
            # The hostmetrics receiver's attribute names (v0.161), not the newer semconv ones, so a
            # rule grouping by `device` reads both sources.
            attributes = {"device": part.device, "mountpoint": part.mountpoint, "type": part.fstype}
            # What `df` shows: used / (used + available to unprivileged users).
            points.append(Observation(usage.percent / 100.0, attributes))
        return points
    except Exception as exc:
        report_internal_error("host_metrics.filesystems", exc)
        return []


def _load(index: int) -> Callable[[CallbackOptions], Iterable[Observation]]:
    def observe(_options: CallbackOptions) -> Iterable[Observation]:
        try:
            return [Observation(os.getloadavg()[index])]
        except OSError as exc:
            report_internal_error("host_metrics.load", exc)
            return []

    return observe
