"""Readers for the embedded default's OTLP-JSON lines (``traces.jsonl``, ``logs.jsonl`` and rotations)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from otel_secretary.sdk._rotating_stream import complete_lines


def attribute_value(value: dict[str, Any]) -> Any:
    for key in ("stringValue", "boolValue", "doubleValue"):
        if key in value:
            return value[key]
    if "intValue" in value:
        return int(value["intValue"])
    if "arrayValue" in value:
        return [attribute_value(v) for v in value["arrayValue"].get("values", [])]
    if "kvlistValue" in value:  # a log attribute holding a map (a nested ``extra=``)
        return attributes(value["kvlistValue"].get("values"))
    return None


def attributes(items: list[dict[str, Any]] | None) -> dict[str, Any]:
    return {item["key"]: attribute_value(item.get("value", {})) for item in items or []}


@dataclass
class JsonSpan:
    name: str
    trace_id: str
    span_id: str
    parent_span_id: str
    kind: int
    attributes: dict[str, Any]
    resource: dict[str, Any]
    status_code: int
    events: list[dict[str, Any]]
    raw: dict[str, Any]


def read_spans(path: Path) -> list[JsonSpan]:
    """Every span in ``path`` and its rotated files ``path.1``, ``path.2`` …"""
    files = [path, *sorted(path.parent.glob(path.name + ".*"))]
    return [span for file in files if file.exists() for span in _spans_in(file)]


def _spans_in(file: Path) -> Iterator[JsonSpan]:
    for line in complete_lines(file):
        for resource_spans in json.loads(line).get("resourceSpans", []):
            resource = attributes(resource_spans.get("resource", {}).get("attributes"))
            for scope_spans in resource_spans.get("scopeSpans", []):
                for span in scope_spans.get("spans", []):
                    yield JsonSpan(
                        name=span["name"],
                        trace_id=span["traceId"],
                        span_id=span["spanId"],
                        parent_span_id=span.get("parentSpanId", ""),
                        kind=int(span.get("kind", 0)),
                        attributes=attributes(span.get("attributes")),
                        resource=resource,
                        status_code=int(span.get("status", {}).get("code", 0)),
                        events=span.get("events", []),
                        raw=span,
                    )
