"""Audit exported telemetry for personal data, for a privacy reviewer who wants evidence, not promises.

Masking is idempotent (``mask(mask(x)) == mask(x)``), so on clean output the masker changes nothing.
Any exported value it would *still* change is a leak to explain: something that bypassed the SDK, a
detector added after the data was written, or a new false positive. The audit reads what we export and
keep: the OTLP-JSON lines of the embedded default (traces, logs, metrics and their rotations, nested
keys of map values included), JSON documents in the data folder (kept notification payloads, alert state
and silences), Prometheus text (a ``/metrics`` URL or a saved dump). It reports where and what kind,
never the value itself, so the report is safe to share.

What it cannot find: anything the masker itself does not detect (a name with no cue and no structural
place, an identifier of a kind we have no detector for), data already sent elsewhere (Sentry, a
webhook, Jaeger's storage: point it at a dump of those), and binary OTLP/protobuf files.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from otel_secretary.pii._masker import Masker, Redactions
from otel_secretary.sdk._rotating_stream import complete_lines

# Fields that carry identifiers or numbers, not text a person wrote.
_SKIPPED_FIELDS = frozenset(
    {
        "traceId",
        "spanId",
        "parentSpanId",
        "startTimeUnixNano",
        "endTimeUnixNano",
        "timeUnixNano",
        "observedTimeUnixNano",
        "kind",
        "flags",
        "droppedAttributesCount",
        "schemaUrl",
        "severityNumber",
    }
)


@dataclass(frozen=True)
class Finding:
    """One exported value the masker would still change: where it is and which kinds, never the value."""

    file: str
    line: int
    where: str
    kinds: tuple[str, ...]


@dataclass
class AuditReport:
    files: int = 0
    values: int = 0
    findings: list[Finding] | None = None

    @property
    def clean(self) -> bool:
        return not self.findings


def audit_files(paths: Iterable[Path], masker: Masker) -> AuditReport:
    report = AuditReport(findings=[])
    for path in _expand(paths):
        report.files += 1
        name = path.name
        if name.endswith(".json"):
            _check(report, masker, str(path), 1, _json_values(_load_json(path), ""))
        elif _is_prometheus(path):
            _audit_prometheus(report, masker, str(path), path.read_text(encoding="utf-8", errors="replace"))
        else:
            for number, line in enumerate(complete_lines(path), start=1):
                _check(report, masker, str(path), number, _values(json.loads(line), ""))
    return report


def audit_url(
    url: str, masker: Masker, report: AuditReport | None = None, timeout: float = 10.0
) -> AuditReport:
    """Scrape a ``/metrics`` endpoint (Prometheus text) and audit every label value and help text."""
    import httpx

    report = report if report is not None else AuditReport(findings=[])
    response = httpx.get(url, timeout=timeout, follow_redirects=True)
    response.raise_for_status()
    report.files += 1
    if "json" in response.headers.get("content-type", ""):
        _check(report, masker, url, 1, _json_values(response.json(), ""))
    else:
        _audit_prometheus(report, masker, url, response.text)
    return report


def _check(
    report: AuditReport, masker: Masker, source: str, line: int, values: Iterable[tuple[str, str | None, str]]
) -> None:
    assert report.findings is not None
    for where, key, value in values:
        report.values += 1
        redactions = Redactions()
        masked = masker.mask_value(key, value, redactions) if key else masker.mask_text(value, redactions)
        if masked != value:
            kinds = tuple(sorted(redactions.kinds)) or ("changed",)
            report.findings.append(Finding(source, line, where, kinds))


def _load_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        return path.read_text(encoding="utf-8", errors="replace")  # audited as text


def _is_prometheus(path: Path) -> bool:
    return path.suffix in (".prom", ".txt", ".metrics") or path.name == "metrics"


def _audit_prometheus(report: AuditReport, masker: Masker, source: str, text: str) -> None:
    """Every label value (under its label name, as the metric masker sees it) and every HELP text."""
    from prometheus_client.parser import text_string_to_metric_families

    values: list[tuple[str, str | None, str]] = []
    try:
        for family in text_string_to_metric_families(text):
            if family.documentation:
                values.append((f"{family.name}.help", None, family.documentation))
            for sample in family.samples:
                for label, value in sample.labels.items():
                    values.append((f"{sample.name}{{{label}}}", label, value))
    except ValueError:
        values = [(f"line {n}", None, line) for n, line in enumerate(text.splitlines(), start=1)]
    _check(report, masker, source, 1, values)


def _expand(paths: Iterable[Path]) -> Iterator[Path]:
    """A file, or a folder's exported files: ``*.jsonl`` and rotations, ``*.json`` documents (kept
    notifications, alert state), Prometheus dumps (``*.prom``, ``metrics*.txt``)."""
    for path in paths:
        if path.is_dir():
            found = {
                p
                for pattern in ("*.jsonl*", "*.json", "*.prom", "metrics*.txt")
                for p in path.glob(pattern)
                if p.is_file() and not p.name.endswith((".lock", ".tmp"))
            }
            yield from sorted(found)
        else:
            yield path


def _values(node: Any, where: str) -> Iterator[tuple[str, str | None, str]]:
    """(location, attribute key or None, string) for every text an OTLP-JSON document carries."""
    if isinstance(node, list):
        for index, item in enumerate(node):
            yield from _values(item, f"{where}[{index}]")
    elif isinstance(node, dict):
        if "key" in node and "value" in node and isinstance(node["key"], str):
            yield from _any_value(node["key"], node["value"], f"{where}.{node['key']}")
            return
        label = node.get("name") if isinstance(node.get("name"), str) else None
        here = f"{where}<{label}>" if label and ("spanId" in node or "timeUnixNano" in node) else where
        for field, child in node.items():
            if field in _SKIPPED_FIELDS:
                continue
            if isinstance(child, str):
                yield f"{here}.{field}", None, child
            else:
                yield from _values(child, f"{here}.{field}")


def _any_value(key: str, value: Any, where: str) -> Iterator[tuple[str, str | None, str]]:
    """An OTLP AnyValue under ``key``: strings, arrays, and maps whose nested keys name their values
    (``{"customer": {"email": …}}`` in a log attribute) and may themselves hold personal data."""
    if not isinstance(value, dict):
        return
    if isinstance(value.get("stringValue"), str):
        yield where, key, value["stringValue"]
    if isinstance(value.get("bytesValue"), str):
        yield where, key, value["bytesValue"]
    for index, item in enumerate(value.get("arrayValue", {}).get("values", [])):
        yield from _any_value(key, item, f"{where}[{index}]")
    for item in value.get("kvlistValue", {}).get("values", []):
        nested = item.get("key")
        if isinstance(nested, str):
            yield f"{where}.{nested}<key>", None, nested
            yield from _any_value(nested, item.get("value"), f"{where}.{nested}")


def _json_values(node: Any, where: str, key: str | None = None) -> Iterator[tuple[str, str | None, str]]:
    """Every string of a plain JSON document, under the key that holds it; keys are audited too."""
    if isinstance(node, dict):
        for child_key, child in node.items():
            child_key = str(child_key)
            yield f"{where}.{child_key}<key>", None, child_key
            yield from _json_values(child, f"{where}.{child_key}", child_key)
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from _json_values(item, f"{where}[{index}]", key)
    elif isinstance(node, str):
        yield where or "$", key, node
