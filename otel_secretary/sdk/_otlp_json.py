"""OTLP-JSON for the embedded files, built straight from SDK objects into dicts and one ``bytes`` line.

Why not upstream's encoder (``opentelemetry-exporter-otlp-json-common``): it builds a tree of generated
dataclasses and then walks it again with ``to_dict()``, and groups items by ``Resource`` as a dict key, so
``Resource.__hash__`` (a sorted ``json.dumps`` of every resource attribute) runs for every span and log
record. On a light route that encoding cost about as much as masking. This module writes the same
document (``tests/foundation/test_otlp_json.py`` compares the two on every kind of value), groups by the
resource *object* (spans of one provider share it) and encodes each resource's attributes once, and
serialises with ``orjson`` when it is installed (``json`` otherwise): the files keep the format every
reader of ours (``errors summary``, ``pii audit``, the demo) and any OTLP-JSON tool already reads.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext

from otel_secretary._internal.export_slices import SliceBudget, slices
from otel_secretary.sdk.trace.ended_attributes import ended_attributes, ended_events, ended_links

T = TypeVar("T")

_HAS_IS_REMOTE = 0x100
_IS_REMOTE = 0x200

Json = dict[str, Any]


def _dumps_with_json() -> Callable[[Any], bytes]:
    import json

    encoder = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)
    return lambda body: encoder.encode(body).encode("utf-8")


def _line_encoder() -> Callable[[Any], bytes]:
    try:
        import orjson
    except ImportError:  # optional speed-up; the stdlib writes the same document
        return _dumps_with_json()
    dumps = orjson.dumps
    return lambda body: dumps(body)


dumps_line = _line_encoder()
"""``body`` as compact UTF-8 JSON (no newline)."""


def _value(value: Any) -> Json:
    # The order of the checks is upstream's: bool before int, str before Sequence.
    if value is None:
        return {}
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, str):
        return {"stringValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": _float(value)}
    if isinstance(value, bytes):
        return {"bytesValue": base64.b64encode(value).decode("ascii") if value else ""}
    if isinstance(value, Sequence):
        values = [_value(item) for item in value]
        return {"arrayValue": {"values": values} if values else {}}
    if isinstance(value, Mapping):
        pairs = [_key_value(str(key), item) for key, item in value.items()]
        return {"kvlistValue": {"values": pairs} if pairs else {}}
    raise TypeError(f"Invalid type {type(value)} of value")


def _float(value: float) -> float | str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def _key_value(key: str, value: Any) -> Json:
    encoded = _value(value)
    return {"key": key, "value": encoded} if key else {"value": encoded}


def attributes(attrs: Mapping[str, Any] | None) -> list[Json]:
    """Upstream skips (and logs) an attribute it cannot encode; so do we, without the log line."""
    if not attrs:
        return []
    out: list[Json] = []
    append = out.append
    for key, value in attrs.items():
        # The common case inline: a str value (route, method, statement, status text).
        if type(value) is str:
            encoded: Json = {"stringValue": value}
            append({"key": key, "value": encoded} if key else {"value": encoded})
            continue
        try:
            append(_key_value(key, value))
        except Exception:
            continue
    return out


class _Grouping:
    """Items grouped resource → scope in first-seen order, as upstream's nested defaultdicts do, but keyed
    by object identity first: equality (never ``__hash__``) is checked once per distinct object."""

    def __init__(self) -> None:
        self._by_id: dict[int, tuple[Any, dict[Any, list[Json]]]] = {}
        self.groups: list[tuple[Resource, dict[Any, list[Json]]]] = []

    def bucket(self, resource: Resource, scope: InstrumentationScope | None) -> list[Json]:
        found = self._by_id.get(id(resource))
        if found is None or found[0] is not resource:
            scopes = next((s for r, s in self.groups if r == resource), None)
            if scopes is None:
                scopes = {}
                self.groups.append((resource, scopes))
            found = (resource, scopes)
            self._by_id[id(resource)] = found
        scopes = found[1]
        items = scopes.get(scope)
        if items is None:
            items = scopes[scope] = []
        return items


class _ResourceCache:
    """The last few resources' encoded attributes, reused across batches (a process has one or two)."""

    def __init__(self) -> None:
        self._cache: dict[int, tuple[Resource, list[Json]]] = {}

    def __call__(self, resource: Resource) -> Json:
        cached = self._cache.get(id(resource))
        if cached is None or cached[0] is not resource:
            if len(self._cache) > 16:
                self._cache.clear()
            cached = (resource, attributes(resource.attributes))
            self._cache[id(resource)] = cached
        return {"attributes": cached[1]} if cached[1] else {}


_resources = _ResourceCache()


def _scope(scope: InstrumentationScope | None) -> Json:
    if scope is None:
        return {}
    out: Json = {}
    if scope.name:
        out["name"] = scope.name
    if scope.version:
        out["version"] = scope.version
    attrs = attributes(scope.attributes)
    if attrs:
        out["attributes"] = attrs
    return out


def _document(grouping: _Grouping, top: str, scoped: str, items: str) -> Json | None:
    resource_entries: list[Json] = []
    for resource, scopes in grouping.groups:
        scope_entries: list[Json] = []
        for scope, encoded in scopes.items():
            entry: Json = {"scope": _scope(scope)}
            if encoded:
                entry[items] = encoded
            if scope is not None and scope.schema_url:
                entry["schemaUrl"] = scope.schema_url
            scope_entries.append(entry)
        resource_entry: Json = {"resource": _resources(resource)}
        if scope_entries:
            resource_entry[scoped] = scope_entries
        if resource.schema_url:
            resource_entry["schemaUrl"] = resource.schema_url
        resource_entries.append(resource_entry)
    return {top: resource_entries} if resource_entries else None


def _flags(context: SpanContext | None) -> int:
    return _HAS_IS_REMOTE | _IS_REMOTE if context is not None and context.is_remote else _HAS_IS_REMOTE


def span(item: ReadableSpan) -> Json:
    """One span as ``ExportTraceServiceRequest`` spells it."""
    context = item.context
    out: Json = {}
    if context is not None:
        out["traceId"] = f"{context.trace_id:032x}"
        out["spanId"] = f"{context.span_id:016x}"
        if context.trace_state:
            out["traceState"] = ",".join(f"{key}={value}" for key, value in context.trace_state.items())
    else:
        out["traceId"] = "0" * 32
        out["spanId"] = "0" * 16
    parent = item.parent
    if parent is not None:
        out["parentSpanId"] = f"{parent.span_id:016x}"
    out["flags"] = _flags(parent)
    if item.name:
        out["name"] = item.name
    kind = item.kind.value + 1  # SDK INTERNAL=0 … CONSUMER=4; OTLP UNSPECIFIED=0, INTERNAL=1 …
    out["kind"] = kind
    if item.start_time:
        out["startTimeUnixNano"] = str(item.start_time)
    if item.end_time:
        out["endTimeUnixNano"] = str(item.end_time)
    # An ended span's own storage: the span exporter passes on spans it found clean, uncopied.
    attrs = attributes(ended_attributes(item))
    if attrs:
        out["attributes"] = attrs
    if item.dropped_attributes:
        out["droppedAttributesCount"] = item.dropped_attributes
    events = ended_events(item)
    if events:
        out["events"] = [_event(event) for event in events]
    if item.dropped_events:
        out["droppedEventsCount"] = item.dropped_events
    links = ended_links(item)
    if links:
        out["links"] = [_link(link) for link in links]
    if item.dropped_links:
        out["droppedLinksCount"] = item.dropped_links
    status: Json = {}
    if item.status.description:
        status["message"] = item.status.description
    if item.status.status_code.value:
        status["code"] = item.status.status_code.value
    out["status"] = status
    return out


def _event(event: Any) -> Json:
    out: Json = {}
    if event.timestamp:
        out["timeUnixNano"] = str(event.timestamp)
    if event.name:
        out["name"] = event.name
    attrs = attributes(event.attributes)
    if attrs:
        out["attributes"] = attrs
    if event.dropped_attributes:
        out["droppedAttributesCount"] = event.dropped_attributes
    return out


def _link(link: Any) -> Json:
    context = link.context
    out: Json = {"traceId": f"{context.trace_id:032x}", "spanId": f"{context.span_id:016x}"}
    attrs = attributes(link.attributes)
    if attrs:
        out["attributes"] = attrs
    if link.dropped_attributes:
        out["droppedAttributesCount"] = link.dropped_attributes
    out["flags"] = _flags(context)
    return out


def log_record(item: ReadableLogRecord) -> Json:
    """One log record as ``ExportLogsServiceRequest`` spells it."""
    record = item.log_record
    out: Json = {}
    if record.timestamp:
        out["timeUnixNano"] = str(record.timestamp)
    if record.observed_timestamp:
        out["observedTimeUnixNano"] = str(record.observed_timestamp)
    severity = getattr(record.severity_number, "value", None)
    if severity:
        out["severityNumber"] = int(severity)
    if record.severity_text:
        out["severityText"] = record.severity_text
    body = record.body
    out["body"] = {"stringValue": body} if type(body) is str else _value(body)
    attrs = attributes(record.attributes)  # type: ignore[arg-type]  # SDK types them loosely
    if attrs:
        out["attributes"] = attrs
    if item.dropped_attributes:
        out["droppedAttributesCount"] = item.dropped_attributes
    flags = int(record.trace_flags) if record.trace_flags is not None else 0
    if flags:
        out["flags"] = flags
    if record.trace_id:
        out["traceId"] = f"{record.trace_id:032x}"
    if record.span_id:
        out["spanId"] = f"{record.span_id:016x}"
    if record.event_name:
        out["eventName"] = record.event_name
    return out


def _chunks(items: Sequence[T], budget: SliceBudget | None) -> Iterable[Sequence[T]]:
    return (items,) if budget is None else slices(items, budget)


def spans_document(spans: Sequence[ReadableSpan], budget: SliceBudget | None = None) -> Json | None:
    """The ``ExportTraceServiceRequest`` for ``spans``, or None when there are none; encoded in slices
    that release the GIL between them when a ``budget`` is given. A span that cannot be encoded raises,
    as upstream's encoder would."""
    grouping = _Grouping()
    for chunk in _chunks(spans, budget):
        for item in chunk:
            grouping.bucket(item.resource, item.instrumentation_scope or None).append(span(item))
    return _document(grouping, "resourceSpans", "scopeSpans", "spans")


def logs_document(records: Sequence[ReadableLogRecord], budget: SliceBudget | None = None) -> Json | None:
    """The ``ExportLogsServiceRequest`` for ``records``, or None when there are none (see above)."""
    grouping = _Grouping()
    for chunk in _chunks(records, budget):
        for item in chunk:
            grouping.bucket(item.resource, item.instrumentation_scope or None).append(log_record(item))
    return _document(grouping, "resourceLogs", "scopeLogs", "logRecords")
