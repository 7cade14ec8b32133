"""Every lock our code takes from both app threads and background threads is fresh in a forked child.

gunicorn and Celery fork while our export and metric threads run. A lock one of those threads held at
``fork()`` stays held for ever in the child (only the forking thread survives), and the first request
or task there that takes it hangs: a worker that serves nothing and never exits (gunicorn's SIGTERM
test failed this way, 1 run in 20, with the name memory's reset turned off). Each object here is
forked while another thread holds its lock; the child must be able to take it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from otel_secretary._internal.fork_safe import _PerProcess
from otel_secretary.errors._record import ErrorRecorder
from otel_secretary.errors._sentry import RepeatSampler
from otel_secretary.genai._cost import PriceBook
from otel_secretary.genai._feedback import _Recent
from otel_secretary.instrumentation.openai import RateLimitGauges
from otel_secretary.pii import LiveNameLearning, Masker
from otel_secretary.pii._names import NameMemory
from tests.support.forking import fork_while_held

OWNERS: dict[str, Callable[[], Any]] = {
    "open-span registry": lambda: LiveNameLearning(Masker(meter_provider=MeterProvider())),
    "name memory": NameMemory,
    "per-process exporter": lambda: _PerProcess(object),
    "rate-limit gauges": lambda: RateLimitGauges(MeterProvider()),
    "error recorder": lambda: ErrorRecorder(meter_provider=MeterProvider()),
    "Sentry repeat sampler": lambda: RepeatSampler(60.0),
    "price book": PriceBook,
    "feedback memory": lambda: _Recent(16),
}


@pytest.mark.parametrize("name", list(OWNERS))
def test_a_lock_held_by_another_thread_at_fork_is_free_in_the_child(name: str) -> None:
    owner = OWNERS[name]()
    assert fork_while_held(owner._lock, lambda: bool(owner._lock.acquire(timeout=5))) == 0


def test_rate_limit_gauges_collect_in_a_child_forked_mid_collection() -> None:
    """The concrete case: the metric reader's thread folds the rate-limit headers under the lock; an app
    with its own MeterProvider (no collection guard of ours) forks meanwhile, and the child collects."""
    reader = InMemoryMetricReader()
    gauges = RateLimitGauges(MeterProvider(metric_readers=[reader]))
    gauges.record("openai", "api.openai.com", {"x-ratelimit-remaining-requests": "7"})

    def collect() -> bool:  # in the child: collect within 5 s, or fail
        done = threading.Event()
        threading.Thread(target=lambda: (reader.get_metrics_data(), done.set()), daemon=True).start()
        return done.wait(5)

    assert fork_while_held(gauges._lock, collect) == 0
