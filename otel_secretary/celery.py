"""Celery prefork support.

Under ``opentelemetry-instrument`` nothing is needed: when the contrib Celery instrumentation loads,
:func:`connect_worker_hooks` is connected for you. ``configure()`` users call
:func:`instrument_celery_workers` once where the Celery app is made.

What the hooks guarantee, whatever the app's Celery settings:

* **every finished task's spans and logs leave a pool child before it exits** — billiard ends a child
  with ``os._exit()`` (``--max-tasks-per-child``, ``--max-memory-per-child``, shutdown), which skips the
  SDK's ``atexit`` flush; ``worker_process_shutdown`` flushes, bounded by ``FLUSH_SECONDS``;
* **a SIGTERM sent to a pool child** (``kill`` on the process group, systemd's default) flushes too:
  billiard's handler turns it into that same exit path;
* **worker logging stays exported and masked**: Celery's default ``worker_hijack_root_logger`` replaces
  the root logger's handlers, and a ``setup_logging`` receiver replaces Celery's whole set-up. Neither
  can remove our export or masking, because neither is a handler: see
  ``otel_secretary.sdk._logs.stdlib_bridge``. So ``setup_logging``/``after_setup_logger``/
  ``after_setup_task_logger`` need no receiver of ours, and connecting none leaves the app's own
  receivers in charge of its console format.
* **task arguments are masked under their parameter names** wherever Celery or Sentry report them (the
  message's ``argsrepr``/``kwargsrepr``, Sentry's ``celery-job``): a bare name passed as ``attendee``
  is masked like a name under that key (``otel_secretary._internal.celery_arguments``).
"""

from __future__ import annotations

import threading
from typing import Any

from otel_secretary import semconv
from otel_secretary._configure import configure, current_handle
from otel_secretary._internal import celery_arguments
from otel_secretary._internal.flush_on_exit import flush_within

_connected = False
_connect_lock = threading.Lock()


def _init_worker(**_: Any) -> None:
    configure()
    from opentelemetry.instrumentation.celery import CeleryInstrumentor

    instrumentor = CeleryInstrumentor()  # type: ignore[no-untyped-call]
    if not instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.instrument()


def _flush(**_: Any) -> None:
    flush_within(current_handle)


def connect_worker_hooks() -> None:
    """Bounded flushes on a pool child's exit (however it was asked to leave) and the worker's shutdown."""
    global _connected
    from celery.signals import worker_process_shutdown, worker_shutdown

    with _connect_lock:
        if _connected:
            return
        _connected = True
    worker_process_shutdown.connect(_flush, weak=False)
    worker_shutdown.connect(_flush, weak=False)
    celery_arguments.connect()


def instrument_celery_workers() -> None:
    from celery.signals import worker_process_init

    worker_process_init.connect(_init_worker, weak=False)
    connect_worker_hooks()


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

    semconv.observable_gauge(
        metrics.get_meter("otel_secretary.celery"), semconv.CELERY_QUEUE_LENGTH, [observe]
    )
