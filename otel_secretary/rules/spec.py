"""The rule spec format: YAML files in ``rules/`` parsed into typed, validated :class:`RuleSpec` objects.

Every error names the file, the line and the field, because a spec is edited by hand and a bad one must
never reach Prometheus or the in-process engine. Parsing uses yaml's composed node tree (SafeLoader) so
each value keeps its line. This module must stay free of any Prometheus or engine concern.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import yaml

from otel_secretary.alerting import regex
from otel_secretary.alerting.model import Matcher
from otel_secretary.config_error import ConfigError

#: The closed set of rule kinds (``RuleSpec.kind``); validated against ``KINDS`` when parsed.
RuleKind = Literal["error_rate", "latency", "slo", "threshold", "forecast"]
KINDS: tuple[RuleKind, ...] = ("error_rate", "latency", "slo", "threshold", "forecast")
#: ``forecast`` projections (see :mod:`otel_secretary.rules.forecast`).
PROJECTIONS = ("linear", "pace", "error_budget")
SPAN_KINDS = ("server", "client", "internal", "producer", "consumer")
SEVERITIES = ("page", "ticket", "info")
OPERATORS = (">", ">=", "<", "<=")
AGGREGATES = ("avg", "max", "min", "sum")


def aggregate(how: str, values: Sequence[float]) -> float:
    """One of :data:`AGGREGATES` over a non-empty group, as PromQL's aggregation of the same name."""
    return {
        "avg": sum(values) / len(values),
        "max": max(values),
        "min": min(values),
        "sum": sum(values),
    }[how]


FUNCTIONS = ("value", "rate", "increase")
#: The Grafana dashboards a rule's panel can live on (``dashboard.board``).
DASHBOARDS = ("overview", "performance", "errors", "external", "business")
_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9]*$")
_LABEL_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_DURATION_RE = re.compile(r"^(\d+)(s|m|h|d|w)$")
_TEMPLATE_RE = re.compile(r"{{\s*(.*?)\s*}}")
_TEMPLATE_OK_RE = re.compile(r"^\$labels\.[a-zA-Z_][a-zA-Z0-9_]*$")
#: Default ``no_data.for``: a few evaluation intervals, so a held page says "no data" within minutes.
NO_DATA_FOR = 300
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


class SpecError(ConfigError):
    """A spec problem, located: ``file:line: field: message``."""

    def __init__(self, file: str, line: int, field_path: str, message: str) -> None:
        self.file = file
        self.line = line
        self.field = field_path
        self.message = message
        super().__init__(f"{file}:{line}: {field_path}: {message}")


def parse_duration(text: str) -> int:
    """Seconds in a Prometheus-style duration with one unit (``90s``, ``5m``, ``30d``)."""
    match = _DURATION_RE.match(text.strip())
    if not match:
        raise ValueError(f"{text!r} is not a duration like 30s, 5m, 1h, 30d")
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def format_duration(seconds: int) -> str:
    """The shortest single-unit form, as Prometheus prints it in rule files."""
    for unit in ("w", "d", "h", "m"):
        size = _UNIT_SECONDS[unit]
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


@dataclass(frozen=True)
class Selector:
    """Which spans a rule counts: the spanmetrics dimensions, matched exactly or by name prefix."""

    service: str | None = None
    span_name: str | None = None
    span_name_prefix: str | None = None
    span_name_regex: str | None = None
    span_kind: str | None = None
    # A span name the regex must match: documents the intent and seeds the generated promtool tests.
    example: str | None = None

    @property
    def sample_span_name(self) -> str:
        """A span name this selector matches, used to build test series."""
        if self.span_name is not None:
            return self.span_name
        if self.example is not None:
            return self.example
        return (self.span_name_prefix or "") + "test"

    @property
    def name_regex(self) -> str | None:
        """The span-name condition as an anchored RE2/Python regex (PromQL ``=~`` anchors implicitly)."""
        if self.span_name_regex is not None:
            return self.span_name_regex
        if self.span_name_prefix is not None:
            return re.escape(self.span_name_prefix).replace("\\ ", " ") + ".*"
        return None

    def matches(self, service: str, span_name: str, span_kind: str) -> bool:
        if self.service is not None and service != self.service:
            return False
        if self.span_kind is not None and span_kind != self.span_kind:
            return False
        if self.span_name is not None and span_name != self.span_name:
            return False
        if self.span_name_prefix is not None and not span_name.startswith(self.span_name_prefix):
            return False
        return self.span_name_regex is None or regex.fullmatch(self.span_name_regex, span_name)


@dataclass(frozen=True)
class SdkSource:
    """How a span rule maps onto the SDK's own Prometheus exporter (an OTel duration histogram).

    ``error`` holds regex matchers that mark a bad request, e.g. ``http_response_status_code: "5.."``.
    """

    metric: str
    match: Mapping[str, str]
    error: Mapping[str, str]
    by: tuple[str, ...]


@dataclass(frozen=True)
class BurnTier:
    """One multiwindow burn-rate tier (SRE Workbook table 5-8); ``factor`` already scaled to the period."""

    name: str
    severity: str
    long: int
    short: int
    factor: float
    #: Minimum events in the long window for the tier to fire (Workbook: low-traffic services).
    min_events: float = 0.0


# (name, severity, share of the budget spent, long window, short window) for a 30-day period; the
# factor is share * period / long window, so 14.4, 6, 3 and 1 at 30d, as Sloth computes it.
TIER_TABLE: tuple[tuple[str, str, float, int, int], ...] = (
    ("page_fast", "page", 0.02, 3600, 300),
    ("page_slow", "page", 0.05, 6 * 3600, 1800),
    ("ticket_fast", "ticket", 0.10, 86400, 2 * 3600),
    ("ticket_slow", "ticket", 0.10, 3 * 86400, 6 * 3600),
)


@dataclass(frozen=True)
class DashboardHome:
    """Where the dashboards show a rule: the board of its panel, and the seed panels drawing its threshold.

    Named here, next to the threshold, so moving a rule or changing its threshold is one edit.
    """

    board: str = "overview"
    #: Ids of overview panels (dashboards code) that draw this rule's threshold as their red line.
    panels: tuple[str, ...] = ()
    #: An early-warning level (orange) for those panels that show one; None: red line only.
    warn: float | None = None


@dataclass(frozen=True)
class RuleSpec:
    """One validated rule. Fields not used by a kind keep their defaults."""

    name: str
    kind: RuleKind
    file: str
    line: int
    severity: str = "page"
    selector: Selector = field(default_factory=Selector)
    by: tuple[str, ...] = ("service_name", "span_name")
    sdk: SdkSource | None = None
    window: int = 300
    threshold: float = 0.0
    min_rate: float = 0.0
    # latency
    latency_threshold: float = 0.0  # seconds
    quantile: float | None = None
    # slo
    sli: str = "availability"
    objective: float = 0.0  # percent
    period: int = 30 * 86400
    tiers: tuple[BurnTier, ...] = ()
    no_data_for: int | None = None
    no_data_severity: str = "ticket"
    # threshold
    metric: str = ""
    unit: str = ""
    metric_type: str = "gauge"
    match: Mapping[str, str] = field(default_factory=dict)
    aggregate: str = "avg"
    function: str = "value"
    invert: bool = False
    op: str = ">"
    service: str | None = None
    collector_metric: str | None = None
    # forecast (rules/forecast.py): how the series is projected and how far ahead
    projection: str = ""
    horizon: int = 0
    # common
    for_: int = 0
    keep_firing_for: int = 0
    #: False: no resolve notification for this rule's alerts (engine; Alertmanager via a label route).
    send_resolved: bool = True
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    dashboard: DashboardHome = field(default_factory=DashboardHome)

    @property
    def budget(self) -> float:
        return 1.0 - self.objective / 100.0

    @property
    def windows(self) -> tuple[int, ...]:
        """Every window the rule reads; recording rules and engine buffers are sized from it."""
        found: set[int] = set()
        if self.kind == "forecast" and self.projection == "error_budget":
            found.update((self.window, self.period))
        elif self.kind == "slo":
            for tier in self.tiers:
                found.update((tier.long, tier.short))
            if self.no_data_for:
                found.add(self.no_data_for)
        else:
            found.add(self.window)
        return tuple(sorted(found))

    @property
    def alert_names(self) -> tuple[str, ...]:
        if self.kind != "slo":
            return (self.name,)
        names = [f"{self.name}BudgetBurn"] if self.tiers else []
        if self.no_data_for:
            names.append(f"{self.name}NoData")
        return tuple(names)


# --------------------------------------------------------------------------------------------- loading


class _Node:
    """A parsed YAML value that remembers its line and the line of each mapping key."""

    def __init__(self, value: Any, line: int, key_lines: dict[str, int] | None = None) -> None:
        self.value = value
        self.line = line
        self.key_lines = key_lines or {}


def _convert(node: yaml.Node) -> _Node:
    line = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        result: dict[str, _Node] = {}
        key_lines: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            result[key] = _convert(value_node)
            key_lines[key] = key_node.start_mark.line + 1
        return _Node(result, line, key_lines)
    if isinstance(node, yaml.SequenceNode):
        return _Node([_convert(item) for item in node.value], line)
    # Resolve the scalar's type (int, float, bool, null …) exactly as SafeLoader would.
    loader = yaml.SafeLoader("")
    try:
        return _Node(loader.construct_object(node, deep=True), line)
    finally:
        loader.dispose()


class _Reader:
    """Typed accessors over one mapping that raise :class:`SpecError` with file, line and field."""

    def __init__(self, file: str, node: _Node, path: str) -> None:
        if not isinstance(node.value, dict):
            raise SpecError(file, node.line, path, "must be a mapping")
        self.file = file
        self.node = node
        self.path = path
        self.used: set[str] = set()

    def error(self, key: str | None, message: str) -> SpecError:
        line = self.node.key_lines.get(key, self.node.line) if key else self.node.line
        return SpecError(self.file, line, f"{self.path}.{key}" if key else self.path, message)

    def has(self, key: str) -> bool:
        return key in self.node.value

    def raw(self, key: str) -> _Node | None:
        self.used.add(key)
        result: _Node | None = self.node.value.get(key)
        return result

    def text(self, key: str, default: str | None = None, *, choices: Iterable[str] | None = None) -> str:
        node = self.raw(key)
        if node is None or node.value is None:
            if default is None:
                raise self.error(key, "is required")
            return default
        if not isinstance(node.value, str | int | float) or isinstance(node.value, bool):
            raise self.error(key, "must be a string")
        value = str(node.value)
        allowed = tuple(choices) if choices is not None else None
        if allowed is not None and value not in allowed:
            raise self.error(key, f"{value!r} is not one of {', '.join(allowed)}")
        return value

    def opt_str(self, key: str) -> str | None:
        return self.text(key, "") or None

    def number(self, key: str, default: float | None = None, *, low: float, high: float) -> float:
        node = self.raw(key)
        if node is None:
            if default is None:
                raise self.error(key, "is required")
            return default
        if isinstance(node.value, bool) or not isinstance(node.value, int | float):
            raise self.error(key, f"{node.value!r} is not a number")
        value = float(node.value)
        if not low <= value <= high:
            raise self.error(key, f"{value:g} is outside {low:g}..{high:g}")
        return value

    def boolean(self, key: str, default: bool) -> bool:
        node = self.raw(key)
        if node is None:
            return default
        if not isinstance(node.value, bool):
            raise self.error(key, "must be true or false")
        return node.value

    def duration(self, key: str, default: int | None = None) -> int:
        node = self.raw(key)
        if node is None:
            if default is None:
                raise self.error(key, "is required")
            return default
        try:
            return parse_duration(str(node.value))
        except ValueError as exc:
            raise self.error(key, str(exc)) from None

    def mapping(self, key: str) -> _Reader | None:
        node = self.raw(key)
        return None if node is None else _Reader(self.file, node, f"{self.path}.{key}")

    def string_map(self, key: str, *, label_keys: bool = True) -> dict[str, str]:
        node = self.raw(key)
        if node is None:
            return {}
        if not isinstance(node.value, dict):
            raise self.error(key, "must be a mapping of names to strings")
        result: dict[str, str] = {}
        for name, value in node.value.items():
            if label_keys and not _LABEL_RE.match(name):
                raise SpecError(
                    self.file, node.key_lines[name], f"{self.path}.{key}.{name}", "invalid label name"
                )
            if isinstance(value.value, dict | list) or value.value is None:
                raise SpecError(self.file, value.line, f"{self.path}.{key}.{name}", "must be a string")
            result[name] = str(value.value)
        return result

    def string_list(self, key: str, default: tuple[str, ...]) -> tuple[str, ...]:
        node = self.raw(key)
        if node is None:
            return default
        if not isinstance(node.value, list) or any(isinstance(i.value, dict | list) for i in node.value):
            raise self.error(key, "must be a list of names")
        names = tuple(str(item.value) for item in node.value)
        for name in names:
            if not _LABEL_RE.match(name):
                raise self.error(key, f"{name!r} is not a valid label name")
        return names

    def reject_unknown(self) -> None:
        for key in self.node.value:
            if key not in self.used:
                raise self.error(key, "unknown field")


def _selector(reader: _Reader) -> Selector:
    sub = reader.mapping("selector")
    if sub is None:
        raise reader.error("selector", "is required for span rules")
    selector = Selector(
        service=sub.opt_str("service"),
        span_name=sub.opt_str("span_name"),
        span_name_prefix=sub.opt_str("span_name_prefix"),
        span_name_regex=sub.opt_str("span_name_regex"),
        span_kind=sub.text("span_kind", "") or None,
        example=sub.opt_str("example"),
    )
    if selector.span_kind is not None and selector.span_kind not in SPAN_KINDS:
        raise sub.error("span_kind", f"{selector.span_kind!r} is not one of {', '.join(SPAN_KINDS)}")
    if (
        sum(x is not None for x in (selector.span_name, selector.span_name_prefix, selector.span_name_regex))
        > 1
    ):
        raise sub.error("span_name", "use one of span_name, span_name_prefix, span_name_regex")
    if selector.span_name_regex is not None:
        try:
            regex.check(selector.span_name_regex)
        except regex.RegexError as exc:
            raise sub.error("span_name_regex", f"{selector.span_name_regex!r}: {exc}") from None
        if selector.example is None:
            raise sub.error("example", "is required with span_name_regex (a span name the regex matches)")
    if selector.example is not None and not selector.matches(
        selector.service or "", selector.example, selector.span_kind or ""
    ):
        raise sub.error("example", f"{selector.example!r} does not match this selector")
    sub.reject_unknown()
    return selector


def _dashboard(reader: _Reader) -> DashboardHome:
    sub = reader.mapping("dashboard")
    if sub is None:
        return DashboardHome()
    if not isinstance(sub.node.value, dict):
        raise reader.error("dashboard", "must be a mapping (board, panels, warn)")
    home = DashboardHome(
        board=sub.text("board", "overview", choices=DASHBOARDS),
        panels=sub.string_list("panels", ()),
        warn=sub.number("warn", low=-1e18, high=1e18) if sub.has("warn") else None,
    )
    sub.reject_unknown()
    return home


def _sdk(reader: _Reader) -> SdkSource | None:
    sub = reader.mapping("sdk")
    if sub is None:
        return None
    source = SdkSource(
        metric=sub.text("metric"),
        match=sub.string_map("match"),
        error=sub.string_map("error"),
        by=sub.string_list("by", ()),
    )
    for value in source.error.values():
        try:
            regex.check(value)
        except regex.RegexError as exc:
            raise sub.error("error", f"bad regex {value!r}: {exc}") from None
    sub.reject_unknown()
    return source


def _tier_options(sub: _Reader | None, name: str, min_events: float) -> tuple[bool, float]:
    """``page_fast: false`` or ``page_fast: {enabled: true, min_events: 50}``."""
    if sub is None or not sub.has(name):
        return True, min_events
    node = sub.node.value[name]
    if isinstance(node.value, dict):
        tier = sub.mapping(name)
        assert tier is not None
        enabled = tier.boolean("enabled", True)
        events = tier.number("min_events", min_events, low=0.0, high=1e12)
        tier.reject_unknown()
        return enabled, events
    return sub.boolean(name, True), min_events


def _tiers(reader: _Reader, period: int, budget: float, min_events: float) -> tuple[BurnTier, ...]:
    sub = reader.mapping("tiers")
    chosen: list[BurnTier] = []
    for name, severity, share, long, short in TIER_TABLE:
        enabled, events = _tier_options(sub, name, min_events)
        if not enabled:
            continue
        factor = round(share * period / long, 4)
        if factor * budget >= 1:
            where = sub if sub and sub.has(name) else reader
            raise where.error(
                name if where is sub else "objective",
                f"tier {name} needs an error ratio of {factor * budget:.3g} (> 100%) and can never fire; "
                f"disable it under tiers or raise the objective",
            )
        chosen.append(BurnTier(name, severity, long, short, factor, events))
    if sub:
        sub.reject_unknown()
    return tuple(chosen)


def _check_templates(reader: _Reader, annotations: Mapping[str, str]) -> None:
    # Generated promtool tests must predict annotations exactly, so only $labels substitution is allowed.
    for key, text in annotations.items():
        for expr in _TEMPLATE_RE.findall(text):
            if not _TEMPLATE_OK_RE.match(expr):
                raise reader.error(
                    "annotations", f"{key}: only {{{{ $labels.<name> }}}} templates are supported"
                )


def _rule(file: str, node: _Node, index: int, defaults: Mapping[str, Any]) -> RuleSpec:
    reader = _Reader(file, node, f"rules[{index}]")
    name = reader.text("name")
    if not _NAME_RE.match(name):
        raise reader.error(
            "name", f"{name!r} must be CamelCase letters and digits (it becomes an alert name)"
        )
    kind = reader.text("kind", choices=KINDS)
    labels = {**defaults.get("labels", {}), **reader.string_map("labels")}
    annotations = {**defaults.get("annotations", {}), **reader.string_map("annotations", label_keys=False)}
    _check_templates(reader, annotations)
    if "severity" in labels:
        raise reader.error("labels", "set severity with the severity field, not as a label")
    if "runbook_url" not in annotations or "summary" not in annotations:
        raise reader.error("annotations", "summary and runbook_url are required")
    common: dict[str, Any] = {
        "name": name,
        "kind": kind,
        "file": file,
        "line": node.line,
        "for_": reader.duration("for", 0),
        "keep_firing_for": reader.duration("keep_firing_for", 0),
        "send_resolved": reader.boolean("send_resolved", True),
        "labels": labels,
        "annotations": annotations,
        "dashboard": _dashboard(reader),
    }
    if kind == "forecast":
        from otel_secretary.rules import forecast

        common.update(forecast.parse(reader))
    if kind in ("error_rate", "latency", "slo") or common.get("projection") == "error_budget":
        common["selector"] = _selector(reader)
        common["by"] = _by(reader, ("service_name", "span_name"))
        common["sdk"] = _sdk(reader)
        if kind != "forecast":
            common["min_rate"] = reader.number("min_rate", 0.0, low=0.0, high=1e9)
    if kind != "slo":
        common["severity"] = reader.text("severity", "page", choices=SEVERITIES)
        common["window"] = reader.duration("window", 300)
    if kind == "error_rate":
        common["threshold"] = reader.number("threshold", low=0.0, high=1.0)
    elif kind == "latency":
        common["latency_threshold"] = _seconds(reader, "latency_threshold")
        if reader.has("quantile"):
            common["quantile"] = reader.number("quantile", low=0.0, high=1.0)
        else:
            common["threshold"] = reader.number("threshold", low=0.0, high=1.0)
    elif kind == "slo":
        common["sli"] = reader.text("sli", "availability", choices=("availability", "latency"))
        common["objective"] = reader.number("objective", low=50.0, high=99.999)
        common["period"] = reader.duration("period", 30 * 86400)
        if common["sli"] == "latency":
            common["latency_threshold"] = _seconds(reader, "latency_threshold")
        budget = 1.0 - common["objective"] / 100.0
        min_events = reader.number("min_events", 0.0, low=0.0, high=1e12)
        common["tiers"] = _tiers(reader, common["period"], budget, min_events)
        no_data = reader.raw("no_data")
        if no_data is None or no_data.value is True:
            common["no_data_for"] = NO_DATA_FOR
        elif no_data.value is not False:
            sub = _Reader(file, no_data, f"{reader.path}.no_data")
            common["no_data_for"] = sub.duration("for", NO_DATA_FOR)
            common["no_data_severity"] = sub.text("severity", "ticket", choices=SEVERITIES)
            sub.reject_unknown()
        if not common["tiers"] and not common["no_data_for"]:
            raise reader.error(
                "tiers", "every tier is disabled and no_data is off: the SLO alerts on nothing"
            )
    elif kind == "threshold":
        common["metric"] = reader.text("metric")
        common["unit"] = reader.text("unit", "")
        common["metric_type"] = reader.text("type", "gauge", choices=("gauge", "counter"))
        common["match"] = reader.string_map("match")
        common["aggregate"] = reader.text("aggregate", "avg", choices=AGGREGATES)
        common["by"] = _by(reader, ())
        common["function"] = reader.text("function", "value", choices=FUNCTIONS)
        common["invert"] = reader.boolean("invert", False)
        common["op"] = reader.text("op", ">", choices=OPERATORS)
        common["threshold"] = reader.number("value", low=-1e18, high=1e18)
        common["service"] = reader.opt_str("service")
        common["collector_metric"] = reader.opt_str("collector_metric")
        if common["metric_type"] == "counter" and common["function"] == "value":
            raise reader.error("function", "a counter needs function: rate or increase")
        if common["metric_type"] == "gauge" and common["function"] != "value":
            raise reader.error("function", "rate and increase apply to counters only")
    reader.reject_unknown()
    return RuleSpec(**common)


#: Labels that name one copy of the pipeline (a collector replica, a process), never what is measured:
#: series differing only in them are summed (PromQL ``sum by`` drops them; the engine aggregates them).
INSTANCE_LABELS = ("collector_instance_id", "service_instance_id", "instance", "process_pid")


def _by(reader: _Reader, default: tuple[str, ...]) -> tuple[str, ...]:
    names = reader.string_list("by", default)
    for name in names:
        if name in INSTANCE_LABELS:
            raise reader.error(
                "by",
                f"{name!r} is a per-instance label: it is never part of an alert's identity "
                "(series from two collectors or processes are summed)",
            )
    return names


def _seconds(reader: _Reader, key: str) -> float:
    """A latency threshold: ``250ms``, ``2s`` or a number of seconds."""
    node = reader.raw(key)
    if node is None:
        raise reader.error(key, "is required")
    text = str(node.value).strip()
    try:
        if text.endswith("ms"):
            value = float(text[:-2]) / 1000.0
        elif text.endswith("s"):
            value = float(text[:-1])
        else:
            value = float(text)
    except ValueError:
        raise reader.error(key, f"{text!r} is not a duration like 250ms or 2s") from None
    if value <= 0:
        raise reader.error(key, "must be greater than 0")
    return value


def load_file(path: Path, *, display_name: str | None = None) -> list[RuleSpec]:
    """Parse one spec file; raises :class:`SpecError` on the first problem."""
    name = display_name or str(path)
    try:
        root = yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else 1
        raise SpecError(name, line, "(yaml)", str(exc.problem)) from None
    if root is None:
        return []
    top = _Reader(name, _convert(root), "(file)")
    defaults: dict[str, Any] = {}
    default_reader = top.mapping("defaults")
    if default_reader is not None:
        defaults["labels"] = default_reader.string_map("labels")
        defaults["annotations"] = default_reader.string_map("annotations", label_keys=False)
        default_reader.reject_unknown()
    top.raw("routing")  # parsed by load_routing
    rules_node = top.raw("rules")
    if rules_node is None or not isinstance(rules_node.value, list):
        raise top.error("rules", "must be a list of rules")
    top.reject_unknown()
    return [_rule(name, item, index, defaults) for index, item in enumerate(rules_node.value)]


#: Spec file names; both YAML spellings, since ``*.yml`` files silently ignored read as "no such rule".
SPEC_PATTERNS = ("*.yaml", "*.yml")


def load_dir(directory: Path, *, relative_to: Path | None = None) -> list[RuleSpec]:
    """All ``*.yaml``/``*.yml`` specs in a folder (not recursive: ``generated/`` is skipped); names unique."""
    specs: list[RuleSpec] = []
    seen: dict[str, RuleSpec] = {}
    for path in sorted({p for pattern in SPEC_PATTERNS for p in directory.glob(pattern)}):
        shown = str(path.relative_to(relative_to)) if relative_to else str(path)
        for spec in load_file(path, display_name=shown):
            if spec.name in seen:
                first = seen[spec.name]
                raise SpecError(
                    spec.file, spec.line, "name", f"{spec.name} already defined at {first.file}:{first.line}"
                )
            seen[spec.name] = spec
            specs.append(spec)
    return specs


class SpecFolderError(ConfigError):
    """A spec folder that cannot be used: missing, not a folder, or holding no specs."""


def spec_files(folder: Path) -> list[Path]:
    """The spec files of ``folder``; a missing, non-folder or empty folder is an error, never "0 rules"."""
    if not folder.exists():
        raise SpecFolderError(f"{folder}: spec folder does not exist")
    if not folder.is_dir():
        raise SpecFolderError(f"{folder}: not a folder (expected a folder of rule specs)")
    files = sorted({path for pattern in SPEC_PATTERNS for path in folder.glob(pattern)})
    if not files:
        raise SpecFolderError(f"{folder}: no rule specs here (expected {' or '.join(SPEC_PATTERNS)} files)")
    return files


@dataclass(frozen=True)
class InhibitRule:
    """While an alert of ``source`` severity fires, alerts of ``target`` severity that have the same
    values for every label in ``equal`` (a missing label counts as empty, as in Alertmanager) are muted."""

    source: str
    target: str
    equal: tuple[str, ...]


@dataclass(frozen=True)
class Route:
    """A notification route: alerts whose labels match every matcher take its repeat interval and its
    resolve setting. The first matching route wins (Alertmanager routes without ``continue``); an unset
    field falls back to the severity's repeat interval and to the rule's ``send_resolved``."""

    matchers: tuple[Matcher, ...]
    repeat_interval: int | None = None
    send_resolved: bool | None = None
    line: int = 0

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(m.matches(labels) for m in self.matchers)


@dataclass(frozen=True)
class Routing:
    """Notification routing shared by the engine and the generated ``alertmanager.yml``.

    Set in any one spec file under ``routing:``; absent, the engine mutes a ticket while a page with the
    same labels fires, reminds every 4 h, and ``alertmanager.yml`` keeps its shipped routes.
    """

    repeat_interval: Mapping[str, int] = field(default_factory=dict)
    inhibit: tuple[InhibitRule, ...] | None = None
    file: str = ""
    routes: tuple[Route, ...] = ()

    def route(self, labels: Mapping[str, str]) -> Route | None:
        """The first route whose matchers all match ``labels``."""
        return next((r for r in self.routes if r.matches(labels)), None)


def _routing(file: str, node: _Node) -> Routing:
    reader = _Reader(file, node, "routing")
    repeat: dict[str, int] = {}
    sub = reader.mapping("repeat_interval")
    if sub is not None:
        for severity in list(sub.node.value):
            if severity not in SEVERITIES:
                raise sub.error(severity, f"{severity!r} is not one of {', '.join(SEVERITIES)}")
            repeat[severity] = sub.duration(severity)
            if repeat[severity] < 60:
                raise sub.error(severity, "must be at least 1m (one evaluation)")
    inhibit: tuple[InhibitRule, ...] | None = None
    raw = reader.raw("inhibit")
    if raw is not None:
        if not isinstance(raw.value, list):
            raise reader.error("inhibit", "must be a list of {source, target, equal}")
        rules = []
        for index, item in enumerate(raw.value):
            entry = _Reader(file, item, f"routing.inhibit[{index}]")
            rule = InhibitRule(
                source=entry.text("source", choices=SEVERITIES),
                target=entry.text("target", choices=SEVERITIES),
                equal=entry.string_list("equal", ("alertname", "rule")),
            )
            if rule.source == rule.target:
                raise entry.error("target", "a severity cannot inhibit itself")
            entry.reject_unknown()
            rules.append(rule)
        inhibit = tuple(rules)
    routes = _routes(file, reader)
    reader.reject_unknown()
    return Routing(repeat, inhibit, file, routes)


def _routes(file: str, reader: _Reader) -> tuple[Route, ...]:
    """``routes: [{matchers: ['rule="Checkout"'], repeat_interval: 30m, send_resolved: false}]``."""
    raw = reader.raw("routes")
    if raw is None:
        return ()
    if not isinstance(raw.value, list):
        raise reader.error("routes", "must be a list of {matchers, repeat_interval, send_resolved}")
    routes = []
    for index, item in enumerate(raw.value):
        entry = _Reader(file, item, f"routing.routes[{index}]")
        node = entry.raw("matchers")
        if node is None or not isinstance(node.value, list) or not node.value:
            raise entry.error("matchers", "must be a non-empty list like ['rule=\"Checkout\"']")
        matchers = []
        for position, matcher in enumerate(node.value):
            where = f"{entry.path}.matchers[{position}]"
            if not isinstance(matcher.value, str):
                raise SpecError(file, matcher.line, where, 'must be a string like severity="page"')
            try:
                parsed = Matcher.parse(matcher.value)
            except ValueError as exc:
                raise SpecError(file, matcher.line, where, str(exc)) from None
            if '"' in parsed.value or "\n" in parsed.value:
                raise SpecError(file, matcher.line, where, "a quote or newline in a matcher value")
            matchers.append(parsed)
        repeat = entry.duration("repeat_interval", 0) or None
        if repeat is not None and repeat < 60:
            raise entry.error("repeat_interval", "must be at least 1m (one evaluation)")
        send_resolved = entry.boolean("send_resolved", True) if entry.has("send_resolved") else None
        if repeat is None and send_resolved is None:
            raise entry.error(None, "sets neither repeat_interval nor send_resolved")
        entry.reject_unknown()
        routes.append(Route(tuple(matchers), repeat, send_resolved, item.line))
    return tuple(routes)


def load_routing(directory: Path, *, relative_to: Path | None = None) -> Routing | None:
    """The ``routing:`` block of the folder's spec files (at most one file may have one), or None."""
    found: Routing | None = None
    for path in sorted({p for pattern in SPEC_PATTERNS for p in directory.glob(pattern)}):
        shown = str(path.relative_to(relative_to)) if relative_to else str(path)
        try:
            root = yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
        except yaml.MarkedYAMLError:
            continue  # load_dir reports it
        if root is None:
            continue
        top = _convert(root)
        if not isinstance(top.value, dict) or "routing" not in top.value:
            continue
        if found is not None:
            raise SpecError(shown, top.key_lines["routing"], "routing", f"already set in {found.file}")
        found = _routing(shown, top.value["routing"])
    return found


def bind_service(specs: Iterable[RuleSpec], service: str | None) -> list[RuleSpec]:
    """Span rules whose selector names no service watch ``service`` (the running one, OTEL_SERVICE_NAME).

    A spec that names a service keeps it. Without a service (None/empty) nothing changes: in the
    in-process engine a rule then sees the spans of its own process, i.e. the running service, and in
    Prometheus it applies to every service, one alert per ``service_name``.
    """
    if not service:
        return list(specs)
    bound = []
    for spec in specs:
        if spec.kind != "threshold" and spec.selector.service is None:
            spec = replace(spec, selector=replace(spec.selector, service=service))
        bound.append(spec)
    return bound


def default_rules_dir() -> Path:
    """The specs shipped in the package (``otel_secretary/rules/specs``), a copy of the repo's rules/."""
    return Path(__file__).with_name("specs")
