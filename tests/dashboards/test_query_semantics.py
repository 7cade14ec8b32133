"""What the query building blocks compute, evaluated by ``promtool test rules`` on synthetic series.

These pin the behaviours a reader of a dashboard relies on: the ``$service`` filter works for both the
Collector's and the SDK's Prometheus exporter without double counting, an error share reads 0 (not "no
data") before the first error, unit-1 gauges are found under either translated name, and span latency
reads in seconds whatever the spanmetrics histogram unit.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest
import yaml

from otel_secretary.dashboards import _queries as q
from tests.support.promql import substitute

PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"


def evaluate(
    tmp_path: Path,
    series: Sequence[tuple[str, str]],
    expr: str,
    expected: Sequence[tuple[str, float]],
    *,
    service: str = ".*",
) -> None:
    """Assert ``expr`` (Grafana variables substituted, $service = ``service``) gives exactly ``expected``."""
    promql = substitute(expr.replace(q.SERVICE_VAR, service))
    document = {
        "rule_files": [],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [{"series": s, "values": v} for s, v in series],
                "promql_expr_test": [
                    {
                        "expr": promql,
                        "eval_time": "10m",
                        "exp_samples": [{"labels": labels, "value": value} for labels, value in expected],
                    }
                ],
            }
        ],
    }
    path = tmp_path / "semantics.test.yml"
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    result = subprocess.run(
        [PROMTOOL, "test", "rules", str(path)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, f"{promql}\n{result.stdout}{result.stderr}"


# One errors/s each: the app seen through the Collector (job = service.name, target_info without
# service_name), the same app scraped in-process (target_info with service_name, scrape job name), and
# another service that the filter must drop.
ERRORS_BOTH_PATHS = [
    ('app_errors_total{job="ai-secretary", instance="i-1", app_error_category="database"}', "0+60x10"),
    ('target_info{job="ai-secretary", instance="i-1", host_name="h"}', "1x10"),
    ('app_errors_total{job="scrape", instance="127.0.0.1:9464", app_error_category="database"}', "0+60x10"),
    ('target_info{job="scrape", instance="127.0.0.1:9464", service_name="ai-secretary"}', "1x10"),
    ('app_errors_total{job="billing", instance="i-2", app_error_category="database"}', "0+60x10"),
    ('target_info{job="billing", instance="i-2"}', "1x10"),
]


def test_service_filter_keeps_collector_and_sdk_series_of_the_service_once(tmp_path: Path) -> None:
    expr = q.sdk_rate(q.APP_ERRORS, (q.CATEGORY,))
    evaluate(
        tmp_path, ERRORS_BOTH_PATHS, expr, [('{app_error_category="database"}', 2)], service="ai-secretary"
    )


def test_service_all_keeps_everything(tmp_path: Path) -> None:
    expr = q.sdk_rate(q.APP_ERRORS, (q.CATEGORY,))
    evaluate(tmp_path, ERRORS_BOTH_PATHS, expr, [('{app_error_category="database"}', 3)])


def test_error_share_is_zero_for_a_route_without_errors(tmp_path: Path) -> None:
    count = "http_server_request_duration_seconds_count"
    series = [
        (f'{count}{{job="a", instance="i", http_route="/ok", http_response_status_code="200"}}', "0+60x10"),
        (f'{count}{{job="a", instance="i", http_route="/bad", http_response_status_code="200"}}', "0+30x10"),
        (f'{count}{{job="a", instance="i", http_route="/bad", http_response_status_code="503"}}', "0+30x10"),
        ('target_info{job="a", instance="i"}', "1x10"),
    ]
    by = (q.ROUTE,)
    expr = q.ratio(
        q.sdk_rate(q.HTTP_SERVER, by, [(q.STATUS, "=~", "5..")]),
        q.sdk_rate(q.HTTP_SERVER, by),
    )
    evaluate(tmp_path, series, expr, [('{http_route="/ok"}', 0), ('{http_route="/bad"}', 0.5)])


@pytest.mark.parametrize("name", ["system_cpu_utilization", "system_cpu_utilization_ratio"])
def test_unit_one_gauges_are_found_under_either_exporter_name(tmp_path: Path, name: str) -> None:
    series = [(f'{name}{{job="a", instance="i", cpu="1", state="idle"}}', "0.25x10")]
    expr = q.sum_by(("job",), q.CPU.series([("state", "=", "idle")]), op="avg")
    evaluate(tmp_path, series, expr, [('{job="a"}', 0.25)])


@pytest.mark.parametrize(
    ("histogram", "bounds"),
    [
        ("traces_span_metrics_duration_seconds_bucket", ("0.1", "1", "+Inf")),
        ("traces_span_metrics_duration_milliseconds_bucket", ("100", "1000", "+Inf")),
    ],
)
def test_span_latency_reads_in_seconds_in_either_unit(
    tmp_path: Path, histogram: str, bounds: tuple[str, ...]
) -> None:
    # Every span takes between 0.1 s and 1 s, so the median interpolates to 0.55 s.
    labels = 'service_name="ai-secretary", span_name="GET /x", span_kind="SPAN_KIND_SERVER"'
    series = [
        (f'{histogram}{{{labels}, le="{bounds[0]}"}}', "0x10"),
        (f'{histogram}{{{labels}, le="{bounds[1]}"}}', "0+60x10"),
        (f'{histogram}{{{labels}, le="{bounds[2]}"}}', "0+60x10"),
    ]
    expr = q.span_quantile(0.5, ("span_name",), q.span_pairs("server"))
    evaluate(tmp_path, series, expr, [('{span_name="GET /x"}', 0.55)], service="ai-secretary")


def test_span_error_calls_sum_away_collector_replicas(tmp_path: Path) -> None:
    base = (
        'service_name="ai-secretary", span_name="stripe POST", span_kind="SPAN_KIND_CLIENT", '
        'status_code="STATUS_CODE_ERROR"'
    )
    series = [
        (f'traces_span_metrics_calls_total{{{base}, collector_instance_id="c1"}}', "0+60x10"),
        (f'traces_span_metrics_calls_total{{{base}, collector_instance_id="c2"}}', "0+120x10"),
    ]
    expr = q.span_calls(("span_name",), q.span_pairs("client"), errors=True)
    evaluate(tmp_path, series, expr, [('{span_name="stripe POST"}', 3)])
