"""Celery prefork support: call :func:`instrument_celery_workers` once where the Celery app is made.

The contrib Celery instrumentation must be installed in each pool process (``worker_process_init``);
under ``opentelemetry-instrument`` the master already instrumented before forking and the signal
handlers are inherited, so this helper only matters for ``configure()`` users.
"""

from __future__ import annotations

from typing import Any

from otel_secretary._configure import configure


def _init_worker(**_: Any) -> None:
    configure()
    from opentelemetry.instrumentation.celery import CeleryInstrumentor

    instrumentor = CeleryInstrumentor()  # type: ignore[no-untyped-call]
    if not instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.instrument()


def instrument_celery_workers() -> None:
    from celery.signals import worker_process_init

    worker_process_init.connect(_init_worker, weak=False)
