"""A small typed model of the Grafana dashboard JSON we generate (schemaVersion 39), and its layout.

Only what our dashboards use is modelled. Output is deterministic (ids and positions follow declaration
order) so the committed JSON can be drift-checked byte for byte. This module knows nothing about metrics.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

SCHEMA_VERSION = 39
GRID_WIDTH = 24
TAG = "otel-secretary"
DATASOURCE: dict[str, str] = {"type": "prometheus", "uid": "${datasource}"}
# Grafana's own "$__rate_interval" is at least four scrape intervals, the floor for a stable rate().
RATE = "$__rate_interval"


@dataclass(frozen=True)
class Query:
    expr: str
    legend: str = ""
    # Instant queries feed stat/bar/table panels that show "now" rather than a history.
    instant: bool = False


@dataclass(frozen=True)
class Panel:
    title: str
    queries: tuple[Query, ...]
    description: str
    unit: str = "short"
    kind: str = "timeseries"
    width: int = 12
    height: int = 8
    # Alert thresholds drawn on the panel: (value, colour), ascending.
    thresholds: tuple[tuple[float, str], ...] = ()
    runbook: str | None = None
    stacked: bool = False
    minimum: float | None = None
    maximum: float | None = None
    # Colour below the first threshold: green when high is bad, red when low is bad (e.g. ``up``).
    base_colour: str = "green"


@dataclass(frozen=True)
class Row:
    title: str
    panels: tuple[Panel, ...]


@dataclass(frozen=True)
class Variable:
    """A ``query`` template variable over Prometheus label values (multi-select, with "All" = ``.*``)."""

    name: str
    label: str
    query: str


@dataclass(frozen=True)
class Dashboard:
    uid: str
    title: str
    description: str
    rows: tuple[Row, ...]
    variables: tuple[Variable, ...] = ()
    tags: tuple[str, ...] = ()

    @property
    def file_name(self) -> str:
        return f"{self.uid}.json"


def _thresholds(panel: Panel) -> dict[str, Any]:
    steps: list[dict[str, Any]] = [{"color": panel.base_colour, "value": None}]
    steps += [{"color": colour, "value": value} for value, colour in panel.thresholds]
    return {"mode": "absolute", "steps": steps}


def _field_config(panel: Panel) -> dict[str, Any]:
    defaults: dict[str, Any] = {"unit": panel.unit, "thresholds": _thresholds(panel)}
    if panel.minimum is not None:
        defaults["min"] = panel.minimum
    if panel.maximum is not None:
        defaults["max"] = panel.maximum
    if panel.kind == "timeseries":
        defaults["custom"] = {
            "drawStyle": "line",
            "fillOpacity": 20 if panel.stacked else 0,
            "lineWidth": 1,
            "showPoints": "never",
            "spanNulls": False,
            "stacking": {"group": "A", "mode": "normal" if panel.stacked else "none"},
            "thresholdsStyle": {"mode": "line" if panel.thresholds else "off"},
        }
    defaults["color"] = {"mode": "thresholds" if panel.kind != "timeseries" else "palette-classic"}
    return {"defaults": defaults, "overrides": []}


def _options(panel: Panel) -> dict[str, Any]:
    reduce = {"calcs": ["lastNotNull"], "fields": "", "values": False}
    if panel.kind == "timeseries":
        return {
            "legend": {
                "calcs": ["mean", "max"],
                "displayMode": "table",
                "placement": "bottom",
                "showLegend": True,
            },
            "tooltip": {"mode": "multi", "sort": "desc"},
        }
    if panel.kind == "stat":
        return {"colorMode": "value", "graphMode": "area", "justifyMode": "auto", "reduceOptions": reduce}
    if panel.kind == "bargauge":
        return {"displayMode": "gradient", "orientation": "horizontal", "reduceOptions": reduce}
    raise ValueError(f"unknown panel kind {panel.kind!r}")


# Series that carry exemplars (trace and span ids of sampled spans): histogram buckets, from the SDK over
# OTLP and from the span_metrics connector, and the connector's call counter (docs/stack.md, "Exemplars").
_EXEMPLAR_SERIES = re.compile(r"_bucket\b|\btraces_span_metrics_calls_total\b")


def carries_exemplars(query: Query) -> bool:
    """A graph over a series with exemplars shows them as dots linking to the trace; Grafana asks for
    them only when the target says so, and only range queries have a time axis to put them on."""
    return not query.instant and _EXEMPLAR_SERIES.search(query.expr) is not None


def _target(query: Query, index: int) -> dict[str, Any]:
    return {
        "datasource": dict(DATASOURCE),
        "editorMode": "code",
        "exemplar": carries_exemplars(query),
        "expr": query.expr,
        "instant": query.instant,
        "legendFormat": query.legend or "__auto",
        "range": not query.instant,
        "refId": chr(ord("A") + index),
    }


def _panel_json(panel: Panel, panel_id: int, grid: dict[str, int]) -> dict[str, Any]:
    result: dict[str, Any] = {
        "datasource": dict(DATASOURCE),
        "description": panel.description,
        "fieldConfig": _field_config(panel),
        "gridPos": grid,
        "id": panel_id,
        "options": _options(panel),
        "targets": [_target(q, i) for i, q in enumerate(panel.queries)],
        "title": panel.title,
        "type": panel.kind,
    }
    if panel.runbook:
        result["links"] = [
            {
                "targetBlank": True,
                "title": f"Runbook: {panel.runbook}",
                "url": f"${{runbook_base}}/{panel.runbook}",
            }
        ]
    return result


def layout(rows: Sequence[Row]) -> list[dict[str, Any]]:
    """Rows stacked top to bottom; within a row, panels fill 24 columns left to right, then wrap."""
    panels: list[dict[str, Any]] = []
    next_id = 1
    y = 0
    for row in rows:
        panels.append(
            {
                "collapsed": False,
                "gridPos": {"h": 1, "w": GRID_WIDTH, "x": 0, "y": y},
                "id": next_id,
                "panels": [],
                "title": row.title,
                "type": "row",
            }
        )
        next_id += 1
        y += 1
        x = 0
        line_height = 0
        for panel in row.panels:
            if not 0 < panel.width <= GRID_WIDTH:
                raise ValueError(f"panel {panel.title!r} has width {panel.width}")
            if x + panel.width > GRID_WIDTH:
                y += line_height
                x, line_height = 0, 0
            grid = {"h": panel.height, "w": panel.width, "x": x, "y": y}
            panels.append(_panel_json(panel, next_id, grid))
            next_id += 1
            x += panel.width
            line_height = max(line_height, panel.height)
        y += line_height
    return panels


def _datasource_variable() -> dict[str, Any]:
    return {
        "current": {},
        "hide": 0,
        "includeAll": False,
        "label": "Data source",
        "multi": False,
        "name": "datasource",
        "options": [],
        "query": "prometheus",
        "refresh": 1,
        "regex": "",
        "type": "datasource",
    }


def _query_variable(variable: Variable) -> dict[str, Any]:
    return {
        "allValue": ".*",
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        "datasource": dict(DATASOURCE),
        "definition": variable.query,
        "hide": 0,
        "includeAll": True,
        "label": variable.label,
        "multi": True,
        "name": variable.name,
        "options": [],
        "query": {"query": variable.query, "refId": f"{variable.name}-values"},
        "refresh": 2,
        "regex": "",
        "sort": 1,
        "type": "query",
    }


def _runbook_variable(base: str) -> dict[str, Any]:
    return {
        "current": {"text": base, "value": base},
        "description": "Where docs/runbooks/ is published; panel links append the runbook file name.",
        "hide": 0,
        "label": "Runbooks at",
        "name": "runbook_base",
        "options": [{"selected": True, "text": base, "value": base}],
        "query": base,
        "type": "textbox",
    }


def render(dashboard: Dashboard, *, runbook_base: str) -> dict[str, Any]:
    """The dashboard as Grafana JSON, ready for file provisioning (``id`` null, fixed ``uid``)."""
    return {
        "annotations": {
            "list": [
                {
                    "builtIn": 1,
                    "datasource": {"type": "grafana", "uid": "-- Grafana --"},
                    "enable": True,
                    "hide": True,
                    "iconColor": "rgba(0, 211, 255, 1)",
                    "name": "Annotations & Alerts",
                    "type": "dashboard",
                }
            ]
        },
        "description": dashboard.description,
        "editable": True,
        "fiscalYearStartMonth": 0,
        "graphTooltip": 1,
        "id": None,
        "links": [
            {
                "asDropdown": True,
                "icon": "external link",
                "includeVars": True,
                "keepTime": True,
                "tags": [TAG],
                "targetBlank": False,
                "title": "otel-secretary dashboards",
                "type": "dashboards",
            }
        ],
        "panels": layout(dashboard.rows),
        "refresh": "30s",
        "schemaVersion": SCHEMA_VERSION,
        "tags": [TAG, *dashboard.tags],
        "templating": {
            "list": [
                _datasource_variable(),
                *(_query_variable(v) for v in dashboard.variables),
                _runbook_variable(runbook_base),
            ]
        },
        "time": {"from": "now-6h", "to": "now"},
        "timepicker": {},
        "timezone": "browser",
        "title": dashboard.title,
        "uid": dashboard.uid,
        "version": 1,
    }
