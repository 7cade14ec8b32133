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


def observe_queue_lengths(celery_app: Any, queues: tuple[str, ...] = ("celery",)) -> None:
    """Report ``messaging.celery.queue.length`` (messages waiting, per queue) as an observable gauge.

    A growing queue is the first sign of stalled workers (the seed's "message processing stalls"),
    and workers cannot report it about themselves once they are stuck; call this in the API process.
    Redis brokers only (queue = list length); other brokers are skipped. Each collection opens one
    pooled broker connection; a broker that does not answer yields no point, never an exception.
    """
    from opentelemetry import metrics
    from opentelemetry.metrics import CallbackOptions, Observation

    from otel_secretary._internal.self_monitoring import report_internal_error

    def observe(_options: CallbackOptions) -> list[Observation]:
        try:
            with celery_app.connection_for_read() as connection:
                if connection.transport_cls not in {"redis", "rediss"}:
                    return []
                client = connection.default_channel.client
                return [Observation(int(client.llen(q)), {"messaging.destination.name": q}) for q in queues]
        except Exception as exc:
            report_internal_error("celery.queue_length", exc)
            return []

    metrics.get_meter("otel_secretary.celery").create_observable_gauge(
        "messaging.celery.queue.length",
        callbacks=[observe],
        unit="{message}",
        description="Messages waiting in the Celery broker queue.",
    )
