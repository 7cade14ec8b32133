"""Reads the log records our embedded default writes (``logs.jsonl`` and rotations) for the tests."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from otel_secretary.sdk._rotating_stream import complete_lines
from tests.support.otlp_json import attributes


@dataclass
class JsonLogRecord:
    body: str
    severity: str
    attributes: dict[str, Any]
    resource: dict[str, Any]
    scope: str
    trace_id: str


def read_log_records(path: Path) -> list[JsonLogRecord]:
    files = [path, *sorted(path.parent.glob(path.name + ".*"))]
    records: list[JsonLogRecord] = []
    for file in files:
        if not file.exists():
            continue
        for line in complete_lines(file):
            for resource_logs in json.loads(line).get("resourceLogs", []):
                resource = attributes(resource_logs.get("resource", {}).get("attributes"))
                for scope_logs in resource_logs.get("scopeLogs", []):
                    scope = scope_logs.get("scope", {}).get("name", "")
                    for record in scope_logs.get("logRecords", []):
                        body = record.get("body", {})
                        records.append(
                            JsonLogRecord(
                                body=str(body.get("stringValue", body)),
                                severity=record.get("severityText", ""),
                                attributes=attributes(record.get("attributes")),
                                resource=resource,
                                scope=scope,
                                trace_id=record.get("traceId", ""),
                            )
                        )
    return records
