"""Error rates by category and the top fingerprints over a time window, from whatever data exists.

Two sources, one result shape (:class:`ErrorSummary`):

* **files** (embedded default): the OTLP-JSON lines the app writes to ``<data_dir>/traces.jsonl`` and
  its rotations ``traces.jsonl.1`` … Spans carrying ``app.error.fingerprint`` are errors. One
  exception recorded on several spans of a trace (client span, then the server span it reached)
  is one occurrence, so occurrences are distinct (trace id, fingerprint) pairs. Server spans give
  the request count, so the share of failed requests can be shown too.
* **stack**: Prometheus for the rates (``app_errors_total`` by category and severity; the metric has
  no fingerprint label, by design) and Jaeger's query API for the fingerprints of recent error
  spans, searched by ``app.error.category`` (Jaeger's tag search does not see the span status).

Reading must tolerate a file being appended or rotated underneath it: a torn last line is skipped.
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from ._classify import CATEGORIES
from ._record import ATTR_CATEGORY, ATTR_FINGERPRINT, ATTR_SEVERITY, ATTR_SYSTEM, ATTR_TYPE

_WINDOW = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
_SERVER_KINDS = (2, "2", "SPAN_KIND_SERVER")
_ERROR_STATUS = (2, "2", "STATUS_CODE_ERROR")


def parse_window(text: str) -> float:
    """``90s``, ``15m``, ``1h``, ``2d`` (a bare number is seconds) → seconds."""
    match = _WINDOW.match(text)
    if match is None or float(match[1]) <= 0:
        raise ValueError(f"bad window {text!r}: use e.g. 30m, 1h, 2d")
    return float(match[1]) * _UNIT_SECONDS[match[2]]


@dataclass
class CategoryRow:
    category: str
    count: float
    per_minute: float
    by_severity: dict[str, float] = field(default_factory=dict)


@dataclass
class FingerprintRow:
    fingerprint: str
    count: int
    category: str
    severity: str
    error_type: str
    system: str
    where: str
    last_seen_unix: float
    example_trace_id: str


@dataclass
class ErrorSummary:
    source: str
    window_seconds: float
    categories: list[CategoryRow]
    fingerprints: list[FingerprintRow]
    requests: float | None = None
    failed_requests: float | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def total(self) -> float:
        return sum(row.count for row in self.categories)

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "window_seconds": self.window_seconds,
            "total": self.total,
            "requests": self.requests,
            "failed_requests": self.failed_requests,
            "categories": [vars(row) for row in self.categories],
            "fingerprints": [vars(row) for row in self.fingerprints],
            "notes": self.notes,
        }


# ---------------------------------------------------------------- embedded files


def _value(value: dict[str, Any]) -> Any:
    for key in ("stringValue", "boolValue", "doubleValue"):
        if key in value:
            return value[key]
    if "intValue" in value:
        return int(value["intValue"])
    return None


def _attributes(items: Iterable[dict[str, Any]] | None) -> dict[str, Any]:
    return {item.get("key", ""): _value(item.get("value") or {}) for item in items or ()}


def trace_files(data_dir: Path) -> list[Path]:
    """``traces.jsonl`` and its rotations, oldest first."""
    base = data_dir / "traces.jsonl"
    rotated = sorted(
        (p for p in data_dir.glob("traces.jsonl.*") if p.suffix.lstrip(".").isdigit()),
        key=lambda p: int(p.suffix.lstrip(".")),
        reverse=True,
    )
    return [p for p in [*rotated, base] if p.is_file()]


def _spans(files: Iterable[Path]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(span, resource attributes) of every span; torn or foreign lines are skipped."""
    for path in files:
        try:
            handle = path.open("r", encoding="utf-8", errors="replace")
        except OSError:
            continue  # rotated away between listing and opening
        with handle:
            for line in handle:
                try:
                    document = json.loads(line)
                except ValueError:
                    continue
                if not isinstance(document, dict):
                    continue
                for resource_spans in document.get("resourceSpans") or ():
                    resource = _attributes((resource_spans.get("resource") or {}).get("attributes"))
                    for scope_spans in resource_spans.get("scopeSpans") or ():
                        for span in scope_spans.get("spans") or ():
                            yield span, resource


def summarize_files(
    data_dir: Path, window_seconds: float, *, now: float | None = None, top: int = 10
) -> ErrorSummary:
    """Summary of the embedded default's own trace files."""
    now = time.time() if now is None else now
    since_ns = int((now - window_seconds) * 1e9)
    files = trace_files(data_dir)
    seen: set[tuple[str, str]] = set()
    counts: Counter[str] = Counter()
    severities: dict[str, Counter[str]] = {}
    rows: dict[str, FingerprintRow] = {}
    requests = failed = 0
    for span, resource in _spans(files):
        end_ns = int(span.get("endTimeUnixNano") or 0)
        if end_ns < since_ns:
            continue
        status = (span.get("status") or {}).get("code", 0)
        if span.get("kind") in _SERVER_KINDS:
            requests += 1
            failed += status in _ERROR_STATUS
        attributes = _attributes(span.get("attributes"))
        fingerprint = attributes.get(ATTR_FINGERPRINT)
        if not fingerprint:
            continue
        trace_id = str(span.get("traceId", ""))
        row = rows.get(fingerprint)
        where = str(attributes.get("http.route") or span.get("name") or "")
        service = str(resource.get("service.name", ""))
        if service and not service.startswith("unknown_service"):
            where = f"{service} {where}"
        if (trace_id, fingerprint) in seen:
            if row is not None and span.get("kind") in _SERVER_KINDS:
                row.where = where  # the route says more than the client span's name
            continue
        seen.add((trace_id, fingerprint))
        category = str(attributes.get(ATTR_CATEGORY, "internal"))
        severity = str(attributes.get(ATTR_SEVERITY, ""))
        counts[category] += 1
        severities.setdefault(category, Counter())[severity] += 1
        if row is None:
            rows[fingerprint] = FingerprintRow(
                fingerprint=str(fingerprint),
                count=1,
                category=category,
                severity=severity,
                error_type=str(attributes.get(ATTR_TYPE) or attributes.get("error.type", "")),
                system=str(attributes.get(ATTR_SYSTEM, "") or ""),
                where=where,
                last_seen_unix=end_ns / 1e9,
                example_trace_id=trace_id,
            )
        else:
            row.count += 1
            if end_ns / 1e9 >= row.last_seen_unix:
                row.last_seen_unix, row.example_trace_id = end_ns / 1e9, trace_id
    summary = ErrorSummary(
        source=f"files:{data_dir}",
        window_seconds=window_seconds,
        categories=_category_rows(counts, severities, window_seconds),
        fingerprints=sorted(rows.values(), key=lambda r: (-r.count, -r.last_seen_unix))[:top],
        requests=requests,
        failed_requests=failed,
    )
    if not files:
        summary.notes.append(f"no trace files in {data_dir} (is the app running with the embedded default?)")
    return summary


def _category_rows(
    counts: Counter[str] | dict[str, float],
    severities: dict[str, Counter[str]] | dict[str, dict[str, float]],
    window: float,
) -> list[CategoryRow]:
    minutes = window / 60
    return [
        CategoryRow(category, count, count / minutes, dict(severities.get(category, {})))
        for category, count in sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    ]


# ---------------------------------------------------------------- running stack


def _promql_window(seconds: float) -> str:
    return f"{max(int(seconds), 1)}s"


def counter_increase(selector: str, window: str, by: str = "") -> str:
    """PromQL for how much a counter grew over ``window``, counting series born inside the window.

    ``increase()`` alone cannot see a series' first jump (0 → 1 happens before its first sample), so a
    brand-new error would count as zero. Series that did not exist ``window`` ago contribute their
    highest value instead; older series keep ``increase()``, which also handles process restarts.
    """
    grouping = f" by ({by})" if by else ""
    born = f"(max_over_time({selector}[{window}]) unless {selector} offset {window})"
    return f"sum{grouping} ({born} or increase({selector}[{window}]))"


def _prometheus_vector(client: httpx.Client, url: str, query: str) -> list[tuple[dict[str, str], float]]:
    answer = client.get(f"{url.rstrip('/')}/api/v1/query", params={"query": query})
    answer.raise_for_status()
    body = answer.json()
    if body.get("status") != "success":
        raise RuntimeError(f"Prometheus refused {query!r}: {body.get('error', body)}")
    return [(item.get("metric", {}), float(item["value"][1])) for item in body["data"]["result"]]


def _jaeger_tags(span: dict[str, Any]) -> dict[str, Any]:
    return {tag.get("key"): tag.get("value") for tag in span.get("tags") or ()}


def _jaeger_row(service: str, span: dict[str, Any], tags: dict[str, Any], seen_at: float) -> FingerprintRow:
    return FingerprintRow(
        fingerprint=str(tags.get(ATTR_FINGERPRINT)),
        count=1,
        category=str(tags.get(ATTR_CATEGORY, "")),
        severity=str(tags.get(ATTR_SEVERITY, "")),
        error_type=str(tags.get(ATTR_TYPE) or tags.get("error.type", "")),
        system=str(tags.get(ATTR_SYSTEM, "") or ""),
        where=f"{service} {tags.get('http.route') or span.get('operationName', '')}".strip(),
        last_seen_unix=seen_at,
        example_trace_id=str(span.get("traceID", "")),
    )


def _merge_span(row: FingerprintRow, service: str, span: dict[str, Any], tags: dict[str, Any]) -> None:
    """Refine a row with another span of the same occurrence: the route and the exception's type."""
    if tags.get("span.kind") == "server" and tags.get("http.route"):
        row.where = f"{service} {tags['http.route']}"
    error_type = str(tags.get(ATTR_TYPE) or tags.get("error.type", ""))
    # HTTP server spans carry error.type = the status code ("500"); the exception's class says more.
    if row.error_type.isdigit() and error_type and not error_type.isdigit():
        row.error_type = error_type


def _jaeger_fingerprints(
    client: httpx.Client,
    url: str,
    services: list[str],
    categories: list[str],
    window_seconds: float,
    now: float,
    top: int,
    limit: int,
) -> list[FingerprintRow]:
    base = url.rstrip("/")
    if not services:
        answer = client.get(f"{base}/api/services")
        answer.raise_for_status()
        services = [s for s in answer.json().get("data") or [] if not s.startswith("jaeger")]
    rows: dict[str, FingerprintRow] = {}
    seen: set[tuple[str, str]] = set()
    for service in services:
        # Jaeger's tag search matches span attributes, not the span status, so ask per error category.
        for category in categories:
            params = {
                "service": service,
                "start": str(int((now - window_seconds) * 1e6)),
                "end": str(int(now * 1e6)),
                "limit": str(limit),
                "tags": json.dumps({ATTR_CATEGORY: category}),
            }
            answer = client.get(f"{base}/api/traces", params=params)
            answer.raise_for_status()
            for trace in answer.json().get("data") or []:
                for span in trace.get("spans") or []:
                    tags = _jaeger_tags(span)
                    fingerprint = tags.get(ATTR_FINGERPRINT)
                    trace_id = str(span.get("traceID", ""))
                    if not fingerprint:
                        continue
                    row = rows.get(fingerprint)
                    if (trace_id, fingerprint) in seen:
                        if row is not None:
                            _merge_span(row, service, span, tags)
                        continue
                    seen.add((trace_id, fingerprint))
                    seen_at = (int(span.get("startTime", 0)) + int(span.get("duration", 0))) / 1e6
                    if row is None:
                        rows[fingerprint] = _jaeger_row(service, span, tags, seen_at)
                        continue
                    row.count += 1
                    _merge_span(row, service, span, tags)
                    if seen_at >= row.last_seen_unix:
                        row.last_seen_unix, row.example_trace_id = seen_at, trace_id
    return sorted(rows.values(), key=lambda r: (-r.count, -r.last_seen_unix))[:top]


def summarize_stack(
    prometheus_url: str | None,
    jaeger_url: str | None,
    window_seconds: float,
    *,
    services: list[str] | None = None,
    now: float | None = None,
    top: int = 10,
    trace_limit: int = 200,
    timeout: float = 5.0,
) -> ErrorSummary:
    """Rates from Prometheus, fingerprints from Jaeger; a source that fails becomes a note, not a crash."""
    now = time.time() if now is None else now
    summary = ErrorSummary(source="stack", window_seconds=window_seconds, categories=[], fingerprints=[])
    window = _promql_window(window_seconds)
    with httpx.Client(timeout=timeout) as client:
        if prometheus_url:
            try:
                counts: dict[str, float] = {}
                severities: dict[str, dict[str, float]] = {}
                query = counter_increase(
                    "app_errors_total", window, by="app_error_category, app_error_severity"
                )
                for labels, value in _prometheus_vector(client, prometheus_url, query):
                    category = labels.get("app_error_category", "unknown")
                    counts[category] = counts.get(category, 0.0) + value
                    bucket = severities.setdefault(category, {})
                    severity = labels.get("app_error_severity", "")
                    bucket[severity] = bucket.get(severity, 0.0) + value
                summary.categories = _category_rows(counts, severities, window_seconds)
                requests_metric = "http_server_request_duration_seconds_count"
                requests = _prometheus_vector(
                    client, prometheus_url, counter_increase(requests_metric, window)
                )
                failed = _prometheus_vector(
                    client,
                    prometheus_url,
                    counter_increase(f'{requests_metric}{{http_response_status_code=~"5.."}}', window),
                )
                summary.requests = requests[0][1] if requests else None
                summary.failed_requests = failed[0][1] if failed else (0.0 if requests else None)
                summary.source += f" prometheus:{prometheus_url}"
            except (httpx.HTTPError, RuntimeError, KeyError, ValueError, IndexError) as exc:
                summary.notes.append(f"Prometheus at {prometheus_url} unavailable: {exc}")
        if jaeger_url:
            try:
                categories = [row.category for row in summary.categories] or list(CATEGORIES)
                summary.fingerprints = _jaeger_fingerprints(
                    client,
                    jaeger_url,
                    list(services or []),
                    categories,
                    window_seconds,
                    now,
                    top,
                    trace_limit,
                )
                summary.source += f" jaeger:{jaeger_url}"
            except (httpx.HTTPError, KeyError, ValueError, TypeError) as exc:
                summary.notes.append(f"Jaeger at {jaeger_url} unavailable: {exc}")
    return summary
