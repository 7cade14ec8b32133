"""Metric streams of readers that never export exemplars, aggregated without the work only exemplars need.

SDK 1.45 aggregates every measurement once per reader. For each of a reader's streams it copies the
attributes and hashes them with ``_hash_attributes`` (a recursive walk over sorted keys: about 1.8 µs
for two attributes), and inside a sampled trace (every request) it offers the measurement to an exemplar
reservoir (about 1.6 µs more). The Prometheus text exporter drops exemplars and the rules engine reads
values only, yet each request's seven measurements (the HTTP duration, active requests ±1, four
connection-pool points) paid both, for both readers: about 0.3 M instructions per request
(``benchmarks/bench_server_instructions.py``).

For the streams of such a reader the SDK still creates each attribute set's aggregation (its own code,
under its own lock, with the cardinality limit of ``cardinality.py``); the aggregation is then found again
by the attributes' items, and no exemplar is offered. Only attribute sets whose values are all strings
are found that way: ``1``, ``True`` and ``1.0`` are equal as dictionary keys but are three series to the
SDK, and a string never equals anything but a string. Every other set takes the SDK's path, without
exemplars. What each aggregation receives is unchanged (``tests/foundation/test_lean_streams.py``
compares the points with an untouched reader's).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricReader

_MAX_SETS: Final = 4096
_MARK: Final = "_otel_secretary_lean"
_NONE: list[Any] = []


def install(
    meter_provider: MeterProvider, reader: MetricReader, keep: Callable[[Any], bool] | None = None
) -> bool:
    """Make ``reader``'s streams lean; with ``keep``, instruments it rejects get no stream at all for this
    reader (the answer the reader's storage caches for them itself). Returns False, changing nothing, on
    an SDK without the storage this relies on."""
    try:
        from opentelemetry.sdk.metrics._internal._view_instrument_match import _hash_attributes

        storage = meter_provider._measurement_consumer._reader_storages[reader]  # type: ignore[attr-defined]
        streams: dict[Any, list[Any]] = storage._instrument_view_instrument_matches
        original = storage._get_or_init_view_instrument_match
    except (AttributeError, ImportError, KeyError, TypeError):
        return False
    if not callable(original) or type(streams) is not dict:
        return False

    def streams_of(instrument: Any) -> list[Any]:
        found = streams.get(instrument)
        if found is not None:
            return found
        if keep is not None and not keep(instrument):
            streams[instrument] = _NONE
            return _NONE
        matches: list[Any] = original(instrument)
        for match in matches:
            _lean(match, _hash_attributes)
        return matches

    storage._get_or_init_view_instrument_match = streams_of  # type: ignore[method-assign]
    return True


def _lean(match: Any, hash_attributes: Callable[[Any], Any]) -> None:
    """Give one stream (``_ViewInstrumentMatch``) the lean ``consume_measurement``; idempotent."""
    if getattr(match, _MARK, False):
        return
    table = getattr(match, "_attributes_aggregation", None)
    view = getattr(match, "_view", None)
    if type(table) is not dict or view is None or getattr(view, "_attribute_keys", None) is not None:
        return  # a view that drops attributes: the SDK's path keeps its filtering
    sdk_consume = match.consume_measurement  # the class's (with the cardinality limit)
    found: dict[tuple[tuple[str, Any], ...], Any] = {}

    def consume_measurement(measurement: Any, should_sample_exemplar: bool = True) -> None:
        attributes = measurement.attributes
        key = tuple(attributes.items()) if attributes else ()
        aggregation = found.get(key)
        if aggregation is not None:
            aggregation.aggregate(measurement, False)
            return
        sdk_consume(measurement, False)
        if all(type(value) is str for _, value in key):
            aggregation = table.get(hash_attributes(dict(key)))
            if aggregation is not None:  # None: the set went to the overflow series
                if len(found) >= _MAX_SETS:
                    found.clear()
                found[key] = aggregation

    match.consume_measurement = consume_measurement
    setattr(match, _MARK, True)
