"""A cardinality limit for every metric stream, with the specification's overflow series.

One instrument recorded with a customer id as an attribute made 5,000 series (13 MB of ``/metrics``,
+72 MiB in the app) because SDK 1.45 for Python has no cardinality limit. The metrics specification
defines one (default 2,000 per stream): once a stream holds ``limit - 1`` attribute sets, measurements
with any new set are aggregated into ONE series whose only attribute is ``otel.metric.overflow=true``
(Prometheus label ``otel_metric_overflow="true"``), so totals stay right and memory stays bounded.
Until upstream ships it, we add exactly that behaviour at the one place every measurement passes,
``_ViewInstrumentMatch.consume_measurement``.

``OTEL_SECRETARY_METRIC_CARDINALITY_LIMIT`` (default 2000) sets the limit; 0 turns it off.
"""

from __future__ import annotations

import dataclasses
import os
import threading
from collections.abc import MutableMapping
from typing import Any

from otel_secretary._internal.self_monitoring import say_disabled

ENV = "OTEL_SECRETARY_METRIC_CARDINALITY_LIMIT"
DEFAULT_LIMIT = 2000
OVERFLOW_ATTRIBUTES = {"otel.metric.overflow": True}
_lock = threading.Lock()
_state: dict[str, Any] = {"limit": 0, "original": None}


def limit_from_env(env: MutableMapping[str, str] | None = None) -> int:
    raw = (os.environ if env is None else env).get(ENV, "").strip()
    if not raw:
        return DEFAULT_LIMIT
    try:
        value = int(raw)
        if value < 0:
            raise ValueError
    except ValueError:
        say_disabled(f"{ENV}={raw!r} (not a whole number >= 0; using {DEFAULT_LIMIT})", ValueError(raw))
        return DEFAULT_LIMIT
    return value


def install(limit: int | None = None) -> int:
    """Apply ``limit`` (default: from the environment) to every metric stream in this process.

    Idempotent; a later call changes the limit. Returns the limit in force."""
    from opentelemetry.sdk.metrics._internal import _view_instrument_match as vim

    chosen = limit_from_env() if limit is None else limit
    with _lock:
        _state["limit"] = chosen
        if _state["original"] is None:
            original = vim._ViewInstrumentMatch.consume_measurement
            _state["original"] = original

            def consume_measurement(self: Any, measurement: Any, should_sample_exemplar: bool = True) -> None:
                cap = _state["limit"]
                table = self._attributes_aggregation
                if cap and len(table) >= cap - 1 and measurement.attributes:
                    attributes = dict(measurement.attributes)
                    keys = self._view._attribute_keys
                    if keys is not None:
                        attributes = {k: v for k, v in attributes.items() if k in keys}
                    if vim._hash_attributes(attributes) not in table:
                        measurement = dataclasses.replace(measurement, attributes=OVERFLOW_ATTRIBUTES)
                original(self, measurement, should_sample_exemplar)

            vim._ViewInstrumentMatch.consume_measurement = consume_measurement  # type: ignore[method-assign]
    return chosen
