"""Audit exported telemetry for personal data, for a privacy reviewer who wants evidence, not promises.

Masking is idempotent (``mask(mask(x)) == mask(x)``), so on clean output the masker changes nothing.
Any exported value it would *still* change is a leak to explain: something that bypassed the SDK, a
detector added after the data was written, or a new false positive. The audit reads the OTLP-JSON
lines of the embedded default (traces and logs, with their rotations) and reports where and what kind,
never the value itself, so the audit report is safe to share.
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
    assert report.findings is not None
    for path in _expand(paths):
        report.files += 1
        for number, line in enumerate(complete_lines(path), start=1):
            for where, key, value in _values(json.loads(line), ""):
                report.values += 1
                redactions = Redactions()
                masked = masker.mask_value(key, value, redactions) if key else masker.mask_text(value)
                if masked != value:
                    kinds = tuple(sorted(redactions.kinds)) or ("changed",)
                    report.findings.append(Finding(str(path), number, where, kinds))
    return report


def _expand(paths: Iterable[Path]) -> Iterator[Path]:
    """A file, or a folder's ``*.jsonl`` files and their rotations (``traces.jsonl.1`` …)."""
    for path in paths:
        if path.is_dir():
            yield from sorted(
                p for p in path.glob("*.jsonl*") if p.is_file() and not p.name.endswith(".lock")
            )
        else:
            yield path


def _values(node: Any, where: str) -> Iterator[tuple[str, str | None, str]]:
    """(location, attribute key or None, string) for every text an OTLP-JSON document carries."""
    if isinstance(node, list):
        for index, item in enumerate(node):
            yield from _values(item, f"{where}[{index}]")
    elif isinstance(node, dict):
        if "key" in node and "value" in node and isinstance(node["key"], str):
            for text in _strings(node["value"]):
                yield f"{where}.{node['key']}", node["key"], text
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


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        if isinstance(value.get("stringValue"), str):
            yield value["stringValue"]
        for item in value.get("arrayValue", {}).get("values", []):
            yield from _strings(item)
        for item in value.get("kvlistValue", {}).get("values", []):
            yield from _strings(item.get("value"))
