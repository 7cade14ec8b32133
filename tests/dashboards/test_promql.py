"""Every expression on every panel is accepted by a real Prometheus (the version our stack runs)."""

from __future__ import annotations

import re
from typing import Any

from tests.dashboards.conftest import Prometheus
from tests.support.promql import substitute


def all_queries(boards: dict[str, dict[str, Any]]) -> list[tuple[str, str, str]]:
    return [
        (name, panel["title"], target["expr"])
        for name, board in boards.items()
        for panel in board["panels"]
        for target in panel.get("targets", [])
    ]


def test_every_panel_query_parses_and_evaluates_in_prometheus(
    boards: dict[str, dict[str, Any]], prometheus: Prometheus
) -> None:
    queries = all_queries(boards)
    assert len(queries) > 60
    failures = []
    for board, title, expr in queries:
        answer = prometheus.query(substitute(expr))
        if answer.get("status") != "success":
            failures.append(f"{board} / {title}: {answer.get('error')}\n    {expr}")
    assert not failures, "\n".join(failures)


def test_no_unsubstituted_variable_is_left_for_prometheus(boards: dict[str, dict[str, Any]]) -> None:
    leftovers = {
        (title, match)
        for _, title, expr in all_queries(boards)
        for match in re.findall(r"\$\{?\w+", substitute(expr))
    }
    assert not leftovers


def test_the_server_rejects_a_broken_expression(prometheus: Prometheus) -> None:
    """Guards the test above: a parse error must come back as an error, not as an empty success."""
    answer = prometheus.query("sum by (le (rate(foo[5m]))")
    assert answer["status"] == "error"
    assert answer["errorType"] == "bad_data"
