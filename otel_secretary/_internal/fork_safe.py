"""Exporters and endpoints that survive ``fork()`` (gunicorn and Celery prefork workers).

The SDK restarts its own batch threads after fork, but exporters are "the responsibility of the
exporter" (opentelemetry-python #2837): an OTLP gRPC channel or a pooled HTTP connection made in the
parent is shared with every child. Each wrapper here holds a factory and builds its delegate lazily,
again in any process whose pid differs from the one that built it, so a child never touches a
parent's connection. Threads do not survive fork either: the Prometheus endpoint restarts itself in
the child on the next free port above the parent's, so prefork workers can each be scraped.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import weakref
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult
from opentelemetry.sdk.metrics.export import MetricExporter, MetricExportResult, MetricsData
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from otel_secretary._internal.fork_reset import renew_lock, reset_in_forked_child

_logger = logging.getLogger(__name__)
E = TypeVar("E")


class _PerProcess(Generic[E]):
    """One delegate per process id, built on first use."""

    def __init__(self, factory: Callable[[], E]) -> None:
        self._factory = factory
        self._pid = -1
        self._delegate: E | None = None
        self._lock = threading.Lock()
        reset_in_forked_child(self, renew_lock)

    def get(self) -> E:
        pid = os.getpid()
        if self._delegate is None or self._pid != pid:
            with self._lock:
                if self._delegate is None or self._pid != pid:
                    # The parent's delegate is abandoned, not shut down: shutting it down here
                    # would close sockets the parent still uses.
                    self._delegate = self._factory()
                    self._pid = pid
        return self._delegate

    def current(self) -> E | None:
        return self._delegate if self._pid == os.getpid() else None


class _PerProcessLifecycle(Generic[E]):
    """Shutdown and flush reach only this process's delegate; a parent's is never touched."""

    _per_process: _PerProcess[E]

    def _start(self, factory: Callable[[], E]) -> None:
        self._per_process = _PerProcess(factory)
        self._per_process.get()  # fail at start-up, not at first export, on a bad exporter setting

    def shutdown(self) -> None:
        if (delegate := self._per_process.current()) is not None:
            delegate.shutdown()  # type: ignore[attr-defined]

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        delegate = self._per_process.current()
        return True if delegate is None else bool(delegate.force_flush(timeout_millis))  # type: ignore[attr-defined]


class ForkSafeSpanExporter(_PerProcessLifecycle[SpanExporter], SpanExporter):
    def __init__(self, factory: Callable[[], SpanExporter]) -> None:
        self._start(factory)

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return self._per_process.get().export(spans)


class ForkSafeLogExporter(_PerProcessLifecycle[LogRecordExporter], LogRecordExporter):
    def __init__(self, factory: Callable[[], LogRecordExporter]) -> None:
        self._start(factory)

    def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
        return self._per_process.get().export(batch)


class ForkSafeMetricExporter(MetricExporter):
    def __init__(self, factory: Callable[[], MetricExporter]) -> None:
        self._per_process: _PerProcess[MetricExporter] = _PerProcess(factory)
        first = self._per_process.get()
        super().__init__(
            preferred_temporality=first._preferred_temporality,
            preferred_aggregation=first._preferred_aggregation,
        )

    def export(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> MetricExportResult:
        return self._per_process.get().export(metrics_data, timeout_millis=timeout_millis, **kwargs)

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        if (delegate := self._per_process.current()) is not None:
            delegate.shutdown(timeout_millis=timeout_millis, **kwargs)

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        delegate = self._per_process.current()
        return True if delegate is None else delegate.force_flush(timeout_millis)


class PrometheusEndpoint:
    """The in-process ``/metrics`` HTTP server, restarted on the next free port in a forked child."""

    #: How far above the base port a child looks for a free one (one port per prefork worker).
    CHILD_PORT_RANGE = 64

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.base_port = port
        self.port: int | None = None
        self._server: Any = None
        self._thread: threading.Thread | None = None
        weak_restart = weakref.WeakMethod(self._restart_in_child)

        def after_in_child() -> None:
            if (restart := weak_restart()) is not None:
                restart()

        os.register_at_fork(after_in_child=after_in_child)

    def start(self, ports: Sequence[int] | None = None) -> None:
        from prometheus_client import start_http_server

        for port in ports or [self.base_port]:
            try:
                self._server, self._thread = start_http_server(port, addr=self.host)
            except OSError:
                continue
            self.port = port
            _logger.info("otel-secretary: metrics at http://%s:%d/metrics", self.host, port)
            return
        _logger.warning("otel-secretary: no free port for /metrics from %d; endpoint off", self.base_port)

    def _restart_in_child(self) -> None:
        # The parent's server socket is inherited but its thread is not; close our copy and
        # take a port of our own so every worker's metrics can be scraped.
        if self._server is not None:
            with contextlib.suppress(OSError):
                self._server.socket.close()
        self._server = self._thread = None
        self.port = None
        self.start(range(self.base_port + 1, self.base_port + 1 + self.CHILD_PORT_RANGE))

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


def guard_metric_collection_across_fork(meter_provider: Any) -> None:
    """Never fork in the middle of a metric collection.

    The SDK's measurement consumer holds one lock for a whole collection, including every observable
    callback (system metrics, queue lengths …), and does not renew it after fork (SDK 1.45). A prefork
    server that forks while the parent's metric thread is collecting hands the child a lock held by a
    thread that does not exist there: the child hangs forever on its first observable instrument or
    collection (seen as a gunicorn worker that boots and never serves). Taking the lock just before
    fork makes the fork wait for the collection to finish; both sides release it afterwards.

    The export that follows a collection is guarded the same way: each periodic reader holds its own
    export lock while its exporter sends (SDK 1.45), outside the collection lock. Forked during a
    parent's export, the child's restarted reader thread waits on that lock forever, so that worker
    never exports a metric (seen as a gunicorn worker missing from the metrics while its spans
    arrive). The child exports through its own exporter (``ForkSafeMetricExporter``) and has nothing
    to wait for, so it gets a fresh lock instead; the fork is not delayed by a slow collector.
    """
    _renew_export_locks_in_child(meter_provider)
    lock = getattr(getattr(meter_provider, "_measurement_consumer", None), "_lock", None)
    if lock is None or not hasattr(lock, "acquire"):
        return
    # A plain flag is enough: the lock itself serialises concurrent forks between before and after.
    held = {"lock": False}

    def before() -> None:
        # Bounded: a collection stuck on a callback must not freeze the server's fork forever.
        held["lock"] = lock.acquire(timeout=10)

    def after() -> None:
        if held["lock"]:
            held["lock"] = False
            lock.release()

    os.register_at_fork(before=before, after_in_parent=after, after_in_child=after)


def _renew_export_locks_in_child(meter_provider: Any) -> None:
    """Give every periodic reader of ``meter_provider`` an unheld export lock in a forked child.

    Readers are looked up at fork time, so one added after start-up is covered too. The SDK restarts
    the reader's thread before this runs (at-fork handlers run in registration order), but that
    thread first sleeps a whole export interval, so it never sees the parent's lock."""
    weak_provider = weakref.ref(meter_provider)

    def after_in_child() -> None:
        provider = weak_provider()
        for reader in getattr(provider, "_metric_readers", None) or ():
            if hasattr(getattr(reader, "_export_lock", None), "acquire"):
                reader._export_lock = threading.Lock()

    os.register_at_fork(after_in_child=after_in_child)
