"""Masked copies of spans, log records and metric batches, built in front of every exporter.

Exported spans and records are frozen, so masking hands *copies* downstream. Keys are masked as well
as values (``extra={"alice@example.com": …}``, ``rsvp.<email>``; see ``_keyed``). Each wrapper fails
closed at two levels: a value whose masking raises becomes ``<redaction-failed>`` (see
``Masker.mask_value``); an item whose copy cannot be built at all is dropped and counted. Nothing here
ever passes an item through unmasked, and nothing raises into the SDK's export thread.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from opentelemetry.attributes import BoundedAttributes
from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk.metrics.export import (
    DataPointT,
    Gauge,
    Histogram,
    HistogramDataPoint,
    Metric,
    MetricsData,
    NumberDataPoint,
    ResourceMetrics,
    ScopeMetrics,
    Sum,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, Status

from otel_secretary.pii._keyed import (
    free_slot,
    known_clean,
    mask_attributes_and_keys,
    mask_key,
    mask_keyed,
    remember_clean,
)
from otel_secretary.pii._keys import is_metric_denied_key
from otel_secretary.pii._masker import REDACTED, Masker, Redactions
from otel_secretary.sdk.trace.ended_attributes import ended_attributes, ended_events, ended_links

REDACTION_COUNT = "app.redaction.count"
REDACTION_KINDS = "app.redaction.kinds"
REDACTION_FAILURES = "app.redaction.failures"


class _MaskedSpan(ReadableSpan):
    """A ReadableSpan that keeps the original's dropped counts (plain dicts/lists carry none)."""

    def __init__(self, dropped: tuple[int, int, int], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._dropped = dropped

    @property
    def dropped_attributes(self) -> int:
        return self._dropped[0]

    @property
    def dropped_events(self) -> int:
        return self._dropped[1]

    @property
    def dropped_links(self) -> int:
        return self._dropped[2]


class ResourceMasker:
    """Masks each distinct Resource once; a process has one or two, and spans share the object.

    Also carries the scope masker, so each exporter wrapper keeps one cache of each."""

    def __init__(self, masker: Masker) -> None:
        self._masker = masker
        self._cache: dict[int, tuple[Resource, Resource]] = {}
        self.scopes = ScopeMasker(masker)

    def __call__(self, resource: Resource) -> Resource:
        cached = self._cache.get(id(resource))
        if cached is not None and cached[0] is resource:
            return cached[1]
        redactions = Redactions()
        attributes = mask_attributes_and_keys(self._masker, resource.attributes, redactions)
        masked = (
            Resource(attributes, resource.schema_url) if redactions.count or redactions.failures else resource
        )
        if len(self._cache) > 64:
            self._cache.clear()
        self._cache[id(resource)] = (resource, masked)
        return masked


class ScopeMasker:
    """Masks instrumentation-scope attributes (rarely set, but exported as-is by every exporter)."""

    def __init__(self, masker: Masker) -> None:
        self._masker = masker
        self._cache: dict[int, tuple[InstrumentationScope, InstrumentationScope]] = {}

    def __call__(self, scope: InstrumentationScope | None) -> InstrumentationScope | None:
        if scope is None or not scope.attributes:
            return scope
        cached = self._cache.get(id(scope))
        if cached is not None and cached[0] is scope:
            return cached[1]
        redactions = Redactions()
        attributes = mask_attributes_and_keys(self._masker, scope.attributes, redactions)
        masked = scope
        if redactions.count or redactions.failures:
            masked = InstrumentationScope(scope.name, scope.version, scope.schema_url, attributes)
        if len(self._cache) > 256:
            self._cache.clear()
        self._cache[id(scope)] = (scope, masked)
        return masked


def _summarise(attributes: dict[str, Any], redactions: Redactions) -> None:
    if redactions.count:
        attributes[REDACTION_COUNT] = redactions.count
        attributes[REDACTION_KINDS] = tuple(sorted(redactions.kinds))
    if redactions.failures:
        attributes[REDACTION_FAILURES] = redactions.failures


def mask_span(masker: Masker, span: ReadableSpan, resources: ResourceMasker) -> ReadableSpan:
    """The span as exported: a masked copy, or the span itself when every part of it is known to mask
    to itself (most spans of a steady workload: the same routes, statements and hosts again), which
    spares the copy and the masking of each value."""
    original = ended_attributes(span)  # exported: ended, so its storage no longer changes
    status = span.status
    resource, scope = resources(span.resource), resources.scopes(span.instrumentation_scope)
    if (
        not status.description
        and resource is span.resource
        and scope is span.instrumentation_scope
        and known_clean(masker, span.name, original)
        and not ended_events(span)
        and not ended_links(span)
    ):
        return span
    redactions = Redactions()
    mask = masker.mask_value
    attributes = mask_attributes_and_keys(masker, original, redactions)
    events = [
        Event(
            name=mask(None, event.name, redactions),
            attributes=mask_attributes_and_keys(masker, event.attributes, redactions),
            timestamp=event.timestamp,
        )
        for event in ended_events(span)
    ]
    links = [
        Link(link.context, mask_attributes_and_keys(masker, link.attributes, redactions))
        for link in ended_links(span)
    ]
    if status.description:
        status = Status(status.status_code, mask(None, status.description, redactions))
    name = mask(None, span.name, redactions)
    if redactions.count or redactions.failures:
        _summarise(attributes, redactions)
        masker.record(redactions, "traces")
    else:
        remember_clean(masker, span.name, original)
    return _MaskedSpan(
        (span.dropped_attributes, span.dropped_events, span.dropped_links),
        name=name,
        context=span.context,
        parent=span.parent,
        resource=resource,
        attributes=attributes,
        events=events,
        links=links,
        kind=span.kind,
        status=status,
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=scope,
    )


def mask_log_record(
    masker: Masker, record: ReadableLogRecord, resources: ResourceMasker
) -> ReadableLogRecord:
    redactions = Redactions()
    original = record.log_record
    log_record = copy.copy(original)
    log_record.body = mask_keyed(masker, None, original.body, redactions)
    attributes = mask_attributes_and_keys(masker, original.attributes, redactions)
    if original.event_name:
        log_record.event_name = masker.mask_value(None, original.event_name, redactions)
    # The exception object is raw; the SDK already copied it into (masked) exception.* attributes.
    log_record.exception = None
    _summarise(attributes, redactions)
    dropped = record.dropped_attributes
    if dropped:
        # Keep the SDK's count of attributes dropped by limits; a plain dict would report zero.
        bounded = BoundedAttributes(attributes=attributes, immutable=False, extended_attributes=True)
        bounded.dropped = dropped
        log_record.attributes = bounded
    else:
        log_record.attributes = attributes
    masker.record(redactions, "logs")
    return ReadableLogRecord(
        log_record=log_record,
        resource=resources(record.resource),
        instrumentation_scope=resources.scopes(record.instrumentation_scope),
        limits=record.limits,
    )


# ------------------------------------------------------------------------------------------- metrics
def _metric_attributes(
    masker: Masker, attributes: Mapping[str, Any] | None, redactions: Redactions
) -> dict[str, Any]:
    """Labels: per-request keys (url.full, enduser.id …) are dropped to a constant, the rest masked."""
    result: dict[str, Any] = {}
    for key, value in (attributes or {}).items():
        name = mask_key(masker, key, redactions)
        if name in result:  # two keys masked alike ("rsvp.<email>"): keep both series apart
            name = free_slot(result, name)
        if isinstance(value, str | bytes) and is_metric_denied_key(key):
            result[name] = REDACTED
            redactions.add(("label",))
        else:
            result[name] = masker.mask_value(key, value, redactions)
    return result


def _label_key(attributes: Mapping[str, Any]) -> tuple[tuple[str, Any], ...]:
    return tuple(sorted((key, tuple(v) if isinstance(v, list) else v) for key, v in attributes.items()))


def _merge(first: DataPointT, second: DataPointT) -> DataPointT:
    """Two series that masking made identical become one (Prometheus rejects duplicate label sets)."""
    if isinstance(first, NumberDataPoint) and isinstance(second, NumberDataPoint):
        return replace(
            first,
            value=first.value + second.value,
            start_time_unix_nano=min(first.start_time_unix_nano, second.start_time_unix_nano),
            time_unix_nano=max(first.time_unix_nano, second.time_unix_nano),
        )
    if (
        isinstance(first, HistogramDataPoint)
        and isinstance(second, HistogramDataPoint)
        and list(first.explicit_bounds) == list(second.explicit_bounds)
    ):
        return replace(
            first,
            count=first.count + second.count,
            sum=first.sum + second.sum,
            bucket_counts=[a + b for a, b in zip(first.bucket_counts, second.bucket_counts, strict=True)],
            min=min(first.min, second.min),
            max=max(first.max, second.max),
            start_time_unix_nano=min(first.start_time_unix_nano, second.start_time_unix_nano),
            time_unix_nano=max(first.time_unix_nano, second.time_unix_nano),
        )
    return second  # gauges and exponential histograms: the latest point stands for the series


def _mask_exemplars(masker: Masker, exemplars: Sequence[Any], redactions: Redactions) -> list[Any]:
    """An exemplar's filtered attributes are the measurement's attributes a view dropped: values the app
    passed (a user id, an address) that would otherwise leave unmasked, next to the trace id."""
    return [
        replace(e, filtered_attributes=_metric_attributes(masker, e.filtered_attributes, redactions))
        if e.filtered_attributes
        else e
        for e in exemplars
    ]


def _mask_points(masker: Masker, points: Sequence[Any], redactions: Redactions, mergeable: bool) -> list[Any]:
    merged: dict[tuple[tuple[str, Any], ...], Any] = {}
    for point in points:
        masked = replace(point, attributes=_metric_attributes(masker, point.attributes, redactions))
        if getattr(point, "exemplars", None):
            masked = replace(masked, exemplars=_mask_exemplars(masker, point.exemplars, redactions))
        label_key = _label_key(masked.attributes)
        previous = merged.get(label_key)
        merged[label_key] = (
            masked if previous is None else (_merge(previous, masked) if mergeable else masked)
        )
    return list(merged.values())


def _mask_metric(masker: Masker, metric: Metric, redactions: Redactions) -> Metric:
    data = metric.data
    if isinstance(data, Sum):
        # Summing two cumulative series is still cumulative; a gauge cannot be summed meaningfully.
        points = _mask_points(masker, data.data_points, redactions, mergeable=True)
    elif isinstance(data, Histogram):
        points = _mask_points(masker, data.data_points, redactions, mergeable=True)
    elif isinstance(data, Gauge):
        points = _mask_points(masker, data.data_points, redactions, mergeable=False)
    else:
        points = _mask_points(masker, data.data_points, redactions, mergeable=False)
    new_data: Any = replace(data, data_points=points)  # type: ignore[arg-type]
    return replace(metric, data=new_data)


def mask_metrics(masker: Masker, metrics_data: MetricsData, resources: ResourceMasker) -> MetricsData:
    redactions = Redactions()
    resource_metrics = []
    for rm in metrics_data.resource_metrics:
        scopes = [
            ScopeMetrics(
                scope=resources.scopes(sm.scope) or sm.scope,
                metrics=[_mask_metric(masker, metric, redactions) for metric in sm.metrics],
                schema_url=sm.schema_url,
            )
            for sm in rm.scope_metrics
        ]
        resource_metrics.append(
            ResourceMetrics(resource=resources(rm.resource), scope_metrics=scopes, schema_url=rm.schema_url)
        )
    masker.record(redactions, "metrics")
    return MetricsData(resource_metrics=resource_metrics)
