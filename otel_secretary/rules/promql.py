"""PromQL for each rule, for the two metric sources we support.

``collector``: the Collector's spanmetrics connector (``traces_span_metrics_calls_total``, duration
histogram in milliseconds *or* seconds, ``collector_instance_id`` summed away) and Collector-translated
metric names.
``sdk``: the Python SDK's own Prometheus exporter (``service_name`` only on ``target_info``, so it is joined).
This module only builds strings; it never talks to Prometheus.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from opentelemetry.exporter.prometheus._mapping import map_unit, sanitize_attribute, sanitize_full_name
from prometheus_client.utils import floatToGoString as _float_to_go_string

from otel_secretary import semconv
from otel_secretary.rules.spec import BurnTier, RuleSpec, SpecError, format_duration

SOURCES = ("collector", "sdk")
SPAN_KIND_VALUES = {
    "server": "SPAN_KIND_SERVER",
    "client": "SPAN_KIND_CLIENT",
    "internal": "SPAN_KIND_INTERNAL",
    "producer": "SPAN_KIND_PRODUCER",
    "consumer": "SPAN_KIND_CONSUMER",
}
CALLS = "traces_span_metrics_calls_total"
DURATION_MS = "traces_span_metrics_duration_milliseconds"
DURATION_S = "traces_span_metrics_duration_seconds"
ERROR_STATUS = "STATUS_CODE_ERROR"
# Beyond a cardinality limit (the spanmetrics connector's, the SDK's) every new attribute set lands in one
# series labelled otel_metric_overflow="true" that keeps none of the other labels. Every rule leaves it
# out on both sides of a ratio: kept, it would be a phantom group (empty route, span, model) with its own
# alerts, and dilute the error ratio of the named series it sits beside. Its existence is a finding of
# its own (docs/stack.md, "The overflow label").
OVERFLOW_LABEL = "otel_metric_overflow"
NOT_OVERFLOW = (OVERFLOW_LABEL, "!=", "true")
# spanmetrics connector default explicit buckets, in milliseconds.
SPANMETRICS_BUCKETS_MS = (2, 4, 6, 8, 10, 50, 100, 200, 400, 800, 1000, 1400, 2000, 5000, 10000, 15000)
# The buckets our own Collector sets (semconv, generated into its config); a latency threshold must be a
# boundary of at least one of the two layouts.
STACK_SPANMETRICS_BUCKETS_MS = semconv.SPAN_METRICS_BUCKETS_MS
# Bucket advice the SDK instrumentations pass (seconds), by instrument name.
SDK_BUCKETS: Mapping[str, tuple[float, ...]] = {
    instrument.name: instrument.buckets for instrument in semconv.INSTRUMENTS if instrument.buckets
}
SDK_DEFAULT_BUCKETS = (0, 5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000, 7500, 10000)


def rule_label(spec: RuleSpec) -> str:
    return spec.name


def num(value: float) -> str:
    """A float as PromQL reads it back bit-identically (``repr`` round-trips)."""
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


def tier_threshold(tier: BurnTier, spec: RuleSpec) -> float:
    """A tier's error-ratio threshold, rounded once so Prometheus and the engine compare one float."""
    return round(tier.factor * spec.budget, 12)


def quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def matchers(pairs: Sequence[tuple[str, str, str]]) -> str:
    if not pairs:
        return ""
    return "{" + ",".join(f"{name}{op}{quote(value)}" for name, op, value in pairs) + "}"


def python_float(value: float) -> str:
    """prometheus_client's rendering of ``le`` (``1.0``, ``+Inf``), which the SDK exporter uses."""
    return str(_float_to_go_string(value))  # type: ignore[no-untyped-call]


def go_float(value: float) -> str:
    """Go's strconv.FormatFloat(v, 'f', -1, 64), which the Collector uses for ``le``."""
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


def le_matcher(seconds_value: float, *, unit_ms: bool) -> tuple[str, str, str]:
    """Match an ``le`` bucket whether the exporter printed it Go-style (``1``) or Python-style (``1.0``)."""
    value = seconds_value * 1000 if unit_ms else seconds_value
    value = round(value, 9)
    forms = sorted({go_float(value), python_float(value)})
    if len(forms) == 1:
        return ("le", "=", forms[0])
    return ("le", "=~", "|".join(re.escape(form) for form in forms))


def prometheus_name(otel_name: str, unit: str, metric_type: str, *, flavour: str) -> str:
    """The name a metric gets after Prometheus translation (Python exporter or Collector translator)."""
    name = sanitize_full_name(otel_name)
    suffix = map_unit(unit)
    if flavour == "collector" and unit == "1" and metric_type == "gauge":
        suffix = "ratio"
    if suffix and not name.endswith("_" + suffix):
        name = f"{name}_{suffix}"
    if metric_type == "counter":
        name += "_total"
    return name


def label_name(attribute: str) -> str:
    return sanitize_attribute(attribute)


def _not_a_boundary(spec: RuleSpec, what: str) -> SpecError:
    """A latency threshold that no histogram bucket ends at: the rule could only count a wrong share."""
    return SpecError(spec.file, spec.line, "latency_threshold", f"{spec.latency_threshold:g}s is not {what}")


@dataclass(frozen=True)
class SpanQueries:
    """Rate expressions of one span rule for one source; ``by`` is the grouping the alerts keep."""

    spec: RuleSpec
    source: str

    @property
    def by(self) -> tuple[str, ...]:
        if self.source == "collector" or self.spec.sdk is None:
            return self.spec.by
        keep = ("service_name",) if "service_name" in self.spec.by else ()
        return keep + self.spec.sdk.by

    def _span_matchers(self) -> list[tuple[str, str, str]]:
        selector = self.spec.selector
        pairs: list[tuple[str, str, str]] = []
        if selector.service is not None:
            pairs.append(("service_name", "=", selector.service))
        if selector.span_kind is not None:
            pairs.append(("span_kind", "=", SPAN_KIND_VALUES[selector.span_kind]))
        if selector.span_name is not None:
            pairs.append(("span_name", "=", selector.span_name))
        elif selector.name_regex is not None:
            pairs.append(("span_name", "=~", selector.name_regex))
        pairs.append(NOT_OVERFLOW)
        return pairs

    def _sdk_matchers(self) -> list[tuple[str, str, str]]:
        assert self.spec.sdk is not None
        return [*((label_name(k), "=", v) for k, v in self.spec.sdk.match.items()), NOT_OVERFLOW]

    def _join(self) -> str:
        service = self.spec.selector.service
        target = "target_info" + (matchers([("service_name", "=", service)]) if service else "")
        return f" * on (job, instance) group_left (service_name) {target}"

    def _sum(self, inner: str, *, extra_by: Sequence[str] = ()) -> str:
        by = ", ".join((*extra_by, *self.by))
        return f"sum by ({by}) ({inner})"

    def _sdk_metric(self) -> str:
        assert self.spec.sdk is not None
        return prometheus_name(self.spec.sdk.metric, "s", "histogram", flavour="sdk")

    def total(self, window: int) -> str:
        w = format_duration(window)
        if self.source == "collector":
            return self._sum(f"rate({CALLS}{matchers(self._span_matchers())}[{w}])")
        return self._sum(
            f"rate({self._sdk_metric()}_count{matchers(self._sdk_matchers())}[{w}]){self._join()}"
        )

    def bad(self, window: int) -> str:
        """Rate of bad events: errors for availability, spans slower than the threshold for latency."""
        spec = self.spec
        w = format_duration(window)
        if spec.kind == "error_rate" or (spec.kind == "slo" and spec.sli == "availability"):
            if self.source == "collector":
                pairs = [*self._span_matchers(), ("status_code", "=", ERROR_STATUS)]
                return self._sum(f"rate({CALLS}{matchers(pairs)}[{w}])")
            assert spec.sdk is not None
            if not spec.sdk.error:
                raise SpecError(
                    spec.file, spec.line, "sdk.error", "is required for availability and error-rate rules"
                )
            pairs = [*self._sdk_matchers(), *((label_name(k), "=~", v) for k, v in spec.sdk.error.items())]
            return self._sum(f"rate({self._sdk_metric()}_count{matchers(pairs)}[{w}]){self._join()}")
        return f"({self.total(window)} - {self.good_latency(window)})"

    def good_latency(self, window: int) -> str:
        spec = self.spec
        w = format_duration(window)
        threshold = spec.latency_threshold
        if self.source == "collector":
            allowed = sorted(set(SPANMETRICS_BUCKETS_MS) | set(STACK_SPANMETRICS_BUCKETS_MS))
            if round(threshold * 1000, 6) not in allowed:
                raise _not_a_boundary(spec, f"a spanmetrics bucket boundary ({allowed} ms)")
            ms = [*self._span_matchers(), le_matcher(threshold, unit_ms=True)]
            sec = [*self._span_matchers(), le_matcher(threshold, unit_ms=False)]
            return (
                f"({self._sum(f'rate({DURATION_MS}_bucket{matchers(ms)}[{w}])')}"
                f" or {self._sum(f'rate({DURATION_S}_bucket{matchers(sec)}[{w}])')})"
            )
        assert spec.sdk is not None
        bounds = SDK_BUCKETS.get(spec.sdk.metric, SDK_DEFAULT_BUCKETS)
        if not any(abs(b - threshold) < 1e-9 for b in bounds):
            raise _not_a_boundary(spec, f"a bucket boundary of {spec.sdk.metric} {bounds}")
        pairs = [*self._sdk_matchers(), le_matcher(threshold, unit_ms=False)]
        return self._sum(f"rate({self._sdk_metric()}_bucket{matchers(pairs)}[{w}]){self._join()}")

    def _histograms(self, window: int) -> list[tuple[str, float]]:
        """(bucket rates summed by ``le``, units per second) for each histogram this source may hold."""
        w = format_duration(window)
        if self.source == "collector":
            pairs = matchers(self._span_matchers())
            return [
                (self._sum(f"rate({DURATION_MS}_bucket{pairs}[{w}])", extra_by=("le",)), 1000.0),
                (self._sum(f"rate({DURATION_S}_bucket{pairs}[{w}])", extra_by=("le",)), 1.0),
            ]
        inner = f"rate({self._sdk_metric()}_bucket{matchers(self._sdk_matchers())}[{w}]){self._join()}"
        return [(self._sum(inner, extra_by=("le",)), 1.0)]

    def quantile_over(self, window: int) -> str:
        """``histogram_quantile(q, …) > threshold`` in the histogram's own unit."""
        spec = self.spec
        assert spec.quantile is not None
        q = num(spec.quantile)
        return " or ".join(
            f"histogram_quantile({q}, {buckets}) > {num(spec.latency_threshold * scale)}"
            for buckets, scale in self._histograms(window)
        )

    def quantile(self, window: int) -> str:
        """The quantile itself in seconds, for dashboards (the alert compares it in the histogram's unit)."""
        assert self.spec.quantile is not None
        q = num(self.spec.quantile)
        return " or ".join(
            f"histogram_quantile({q}, {buckets})" + (f" / {num(scale)}" if scale != 1.0 else "")
            for buckets, scale in self._histograms(window)
        )


def metric_selector(match: Mapping[str, str]) -> str:
    """A rule's own matchers on a metric, without the overflow series (see ``NOT_OVERFLOW``)."""
    return matchers([*((label_name(k), "=", v) for k, v in match.items()), NOT_OVERFLOW])


def threshold_expr(spec: RuleSpec, source: str) -> tuple[str, tuple[str, ...]]:
    """Expression of a ``threshold`` rule and the labels its alerts carry."""
    flavour = "collector" if source == "collector" else "sdk"
    if source == "collector" and spec.collector_metric:
        name = spec.collector_metric
    else:
        name = prometheus_name(spec.metric, spec.unit, spec.metric_type, flavour=flavour)
    series = f"{name}{metric_selector(spec.match)}"
    if spec.function != "value":
        series = f"{spec.function}({series}[{format_duration(spec.window)}])"
    by = tuple(spec.by)
    if spec.service:
        target = matchers([("service_name", "=", spec.service)])
        series += f" * on (job, instance) group_left (service_name) target_info{target}"
        by = ("service_name", *by)
    aggregated = f"{spec.aggregate} by ({', '.join(by)}) ({series})" if by else f"{spec.aggregate}({series})"
    if spec.invert:
        aggregated = f"1 - {aggregated}"
    return f"{aggregated} {spec.op} {num(spec.threshold)}", by


#: The recording rules both SLO and forecast rules read: per-window event rate and error ratio.
RECORD_TOTAL = "otel_secretary:sli_total:rate"
RECORD_RATIO = "otel_secretary:sli_error:ratio_rate"


def sli_recording_rules(
    queries: SpanQueries, windows: Sequence[int], labels: Mapping[str, str]
) -> list[dict[str, Any]]:
    """Per window, the SLI's event rate and its error ratio, recorded once for the alerts that read them."""
    rules: list[dict[str, Any]] = []
    for window in windows:
        w = format_duration(window)
        rules.append({"record": f"{RECORD_TOTAL}{w}", "expr": queries.total(window), "labels": labels})
        rules.append(
            {
                "record": f"{RECORD_RATIO}{w}",
                "expr": f"{queries.bad(window)}\n/\n{queries.total(window)}",
                "labels": labels,
            }
        )
    return rules
