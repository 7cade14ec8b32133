"""gunicorn hooks: ``post_fork = otel_secretary.gunicorn.post_fork`` in ``gunicorn.conf.py``.

Under ``opentelemetry-instrument`` nothing is required: the SDK restarts its batch threads in each
worker and our exporters rebuild themselves per process. This hook is for apps that call
``configure()`` in code with ``--preload``: it makes sure the worker's pipeline exists and tags
the worker's logs with its pid.
"""

from __future__ import annotations

import logging
from typing import Any

from otel_secretary._configure import configure


def post_fork(server: Any, worker: Any) -> None:
    configure()
    logging.getLogger("otel_secretary").debug("telemetry ready in gunicorn worker pid=%s", worker.pid)


def worker_exit(server: Any, worker: Any) -> None:
    """``worker_exit = otel_secretary.gunicorn.worker_exit``: flush (bounded) as a worker leaves.

    A worker that leaves normally (``max_requests`` recycling, SIGTERM, SIGQUIT) also flushes through
    the SDK's ``atexit`` hook; this makes the flush explicit, bounded by ``FLUSH_SECONDS``, and runs it
    before gunicorn's own exit work."""
    from otel_secretary._configure import current_handle
    from otel_secretary._internal.flush_on_exit import flush_within

    flush_within(current_handle)
