"""A monotonic counter summed in the process and handed to the SDK only when metrics are collected.

``Counter.add`` in SDK 1.45 costs about 16 µs per reader: a ``Measurement`` whose attributes are
cleaned and hashed (sorted) again on every call, the exemplar filter and reservoir, and a lock per
stream. For a counter added on every model call (the cost counter) that is a tenth of what the whole
GenAI span costs. Here an add is one dict update under a lock (~1 µs), keyed by the attribute set,
and an observable counter reports the running totals at collection; the exported points (a
cumulative monotonic sum per attribute set, or deltas when the exporter asks for them) are what the
SDK's own counter would give.

What is given up, on purpose: exemplars (no rule, dashboard or test reads them on these counters),
and the timestamp of each add (a point carries the collection time, as the SDK's counters do too).
Under delta temporality a series that did not change is reported as a delta of 0 (an observable
reports every series it has), where the SDK's counter would leave it out; the sums are the same.
The number of series is bounded like every other stream (``OTEL_SECRETARY_METRIC_CARDINALITY_LIMIT``):
attribute sets beyond the limit are summed into the ``otel.metric.overflow=true`` series. A forked
child starts from zero: the totals are the parent's calls, which the parent reports itself.

An observable instrument registered twice under one name on one meter keeps only the first callback
(the SDK warns and returns the first instrument), so a second counter would count into totals nobody
reports. :meth:`SummedCounter.shared` hands every caller the one counter of its meter provider, scope
and name; that is how the cost counter is made, once per provider, however many telemetry objects use it.
The global provider counts as one provider before and after the SDK's is set; a provider given
explicitly before it is made the global one is the one case it cannot join (then set it first).
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Iterable, Mapping
from typing import Any

from opentelemetry.metrics import (
    CallbackOptions,
    Meter,
    MeterProvider,
    ObservableCounter,
    Observation,
    get_meter,
    get_meter_provider,
)

from otel_secretary import semconv

from .cardinality import OVERFLOW_ATTRIBUTES, limit_from_env

_Key = frozenset[tuple[str, Any]]
_OVERFLOW_KEY: _Key = frozenset(OVERFLOW_ATTRIBUTES.items())
# (scope, version, instrument name) -> the counter, per meter provider. ``None`` means the global
# provider as it is when the counter is first asked for: once the SDK provider is set, a telemetry object
# given that provider explicitly and one given None share a counter, as they share the meter.
_SharedKey = tuple[str, str, str]
_shared: weakref.WeakKeyDictionary[MeterProvider, dict[_SharedKey, SummedCounter]] = (
    weakref.WeakKeyDictionary()
)
# The counters of the global provider, whether asked for through the API's proxy or the SDK provider.
_global: dict[_SharedKey, SummedCounter] = {}
_shared_lock = threading.Lock()


class SummedCounter:
    """``add(amount, attributes)`` like a ``Counter``; the SDK sees the totals when it collects."""

    def __init__(self, meter: Meter, instrument: semconv.Instrument, max_series: int | None = None) -> None:
        if instrument.kind != "counter":
            raise TypeError(f"{instrument.name} is declared as a {instrument.kind}, not a counter")
        limit = limit_from_env() if max_series is None else max_series
        # The overflow series takes one of the stream's places, as in the SDK's own limit.
        self._max_series = limit - 1 if limit > 0 else 0
        self._totals: dict[_Key, list[Any]] = {}  # key -> [total, attributes as given]
        self._lock = threading.Lock()
        self.instrument: ObservableCounter = meter.create_observable_counter(
            instrument.name,
            callbacks=[self._observe],
            unit=instrument.unit,
            description=instrument.description,
        )
        weak_self = weakref.ref(self)
        os.register_at_fork(after_in_child=lambda: _forget(weak_self))

    @classmethod
    def shared(
        cls,
        meter_provider: MeterProvider | None,
        scope: str,
        version: str,
        instrument: semconv.Instrument,
    ) -> SummedCounter:
        """The one counter for ``instrument`` under ``scope`` on ``meter_provider`` (None: the global one)."""
        key = (scope, version, instrument.name)
        current = get_meter_provider()
        provider = meter_provider if meter_provider is not None else current
        with _shared_lock:
            # The global provider is one table whatever it was when first asked: the API's proxy (a
            # masker built before the SDK provider is set, as the pipeline builds its own) forwards its
            # instruments to that provider once it is set, so a counter made through the proxy and one
            # asked for afterwards would be two registrations of one name on one meter.
            tables = (
                [_global, _shared.setdefault(provider, {})]
                if provider is current
                else [_shared.setdefault(provider, {})]
            )
            counter = next((table[key] for table in tables if key in table), None)
            if counter is None:
                meter = get_meter(scope, version, meter_provider=provider)
                counter = cls(meter, instrument)
            for table in tables:
                table.setdefault(key, counter)
            return counter

    def add(self, amount: float, attributes: Mapping[str, Any]) -> None:
        if amount < 0:  # monotonic, as Counter.add: a negative amount is dropped
            return
        key = frozenset(attributes.items())
        with self._lock:
            series = self._totals.get(key)
            if series is None:
                if self._max_series and len(self._totals) >= self._max_series and key != _OVERFLOW_KEY:
                    key = _OVERFLOW_KEY
                    series = self._totals.get(key)
                if series is None:
                    labels = OVERFLOW_ATTRIBUTES if key is _OVERFLOW_KEY else dict(attributes)
                    # 0, not 0.0: whole-number adds (counts) stay integers, as in the SDK's Counter.
                    series = self._totals[key] = [0, labels]
            series[0] += amount

    def _observe(self, _options: CallbackOptions) -> Iterable[Observation]:
        with self._lock:
            return [Observation(total, attributes) for total, attributes in self._totals.values()]

    def _reset(self) -> None:
        self._lock = threading.Lock()
        self._totals = {}


def _forget(weak_self: weakref.ref[SummedCounter]) -> None:
    counter = weak_self()
    if counter is not None:
        counter._reset()


__all__ = ["SummedCounter"]
