"""Spec validation: every error names file, line and field; burn-rate tiers follow the SRE Workbook."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from otel_secretary.rules.spec import RuleSpec, SpecError, default_rules_dir, load_dir, load_file

from .conftest import ANNOTATIONS, REPO

Specs = Callable[[str], list[RuleSpec]]
BASE = """rules:
  - name: Api
    kind: slo
    objective: 99.9
    selector: {service: api}
"""


def test_workbook_tiers_for_a_30_day_slo(make_specs: Specs) -> None:
    (spec,) = make_specs(BASE + ANNOTATIONS)
    assert [(t.name, t.severity, t.long, t.short, t.factor) for t in spec.tiers] == [
        ("page_fast", "page", 3600, 300, 14.4),
        ("page_slow", "page", 21600, 1800, 6.0),
        ("ticket_fast", "ticket", 86400, 7200, 3.0),
        ("ticket_slow", "ticket", 259200, 21600, 1.0),
    ]
    assert spec.no_data_for == 300 and spec.alert_names == ("ApiBudgetBurn", "ApiNoData")


def test_tiers_scale_with_the_period_and_switch_off(make_specs: Specs) -> None:
    (spec,) = make_specs(BASE + "    period: 28d\n    tiers: {ticket_slow: false}\n" + ANNOTATIONS)
    assert [(t.name, t.factor) for t in spec.tiers] == [
        ("page_fast", 13.44),
        ("page_slow", 5.6),
        ("ticket_fast", 2.8),
    ]


@pytest.mark.parametrize(
    ("extra", "field", "message"),
    [
        ("    objective: 101\n", "rules[0].objective", "outside"),
        ("    keep_firing_for: 5 minutes\n", "rules[0].keep_firing_for", "not a duration"),
        ("    colour: blue\n", "rules[0].colour", "unknown field"),
        ("    tiers: {page_fast: maybe}\n", "rules[0].tiers.page_fast", "true or false"),
        ("    tiers: {page_fast: {min_events: -1}}\n", "rules[0].tiers.page_fast.min_events", "outside"),
        ("    tiers: {page_fast: {burst: 2}}\n", "rules[0].tiers.page_fast.burst", "unknown field"),
        ("    min_events: many\n", "rules[0].min_events", "not a number"),
        ("    labels: {severity: page}\n", "rules[0].labels", "severity field"),
    ],
    ids=[
        "objective-range",
        "duration",
        "unknown-field",
        "tier-bool",
        "tier-min-events",
        "tier-unknown",
        "min-events",
        "severity-label",
    ],
)
def test_errors_name_file_line_and_field(make_specs: Specs, extra: str, field: str, message: str) -> None:
    head = BASE.replace("    objective: 99.9\n", "") if "objective" in extra else BASE
    body = head + ANNOTATIONS.lstrip("\n") + extra
    line = body.count("\n")  # the offending field is the last line
    with pytest.raises(SpecError) as caught:
        make_specs(body)
    error = caught.value
    assert (error.line, error.field) == (line, field), str(error)
    assert message in error.message and str(error).startswith(f"{error.file}:{line}: {field}:")
    assert error.file.endswith("spec.yaml")


def test_a_tier_that_can_never_fire_is_rejected(make_specs: Specs) -> None:
    # 90% objective: page_fast would need 14.4 x 10% = 144% errors (SRE Workbook: extreme SLOs).
    with pytest.raises(SpecError, match=r"page_fast.*can never fire"):
        make_specs(BASE.replace("99.9", "90") + ANNOTATIONS)


def test_regex_selectors_need_a_matching_example(make_specs: Specs) -> None:
    body = BASE.replace("{service: api}", '{span_name_regex: "GET .*", example: POST /x}') + ANNOTATIONS
    with pytest.raises(SpecError, match="does not match"):
        make_specs(body)


def test_annotations_only_allow_label_templates(make_specs: Specs) -> None:
    body = BASE + ANNOTATIONS.replace("is failing", "at {{ $value }}")
    with pytest.raises(SpecError, match=r"only \{\{ \$labels"):
        make_specs(body)


def test_yaml_syntax_error_has_a_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("rules:\n  - name: A\n    kind: [unclosed\n")
    with pytest.raises(SpecError) as caught:
        load_file(path)
    assert caught.value.line >= 3


def test_duplicate_names_across_files(tmp_path: Path) -> None:
    for name in ("a.yaml", "b.yaml"):
        (tmp_path / name).write_text(BASE + ANNOTATIONS)
    with pytest.raises(SpecError, match=r"already defined at .*a\.yaml:2"):
        load_dir(tmp_path)


def test_shipped_specs_cover_the_seed_alert_set() -> None:
    names = {spec.name for spec in load_dir(default_rules_dir())}
    assert {
        "HighErrorRate",
        "SlowResponses",
        "OpenAIAvailability",
        "StripeErrorRate",
        "CalendarErrorRate",
        "DatabaseErrors",
        "RedisErrors",
        "HighCPUUsage",
        "HighMemoryUsage",
        "DiskAlmostFull",
        "HighSystemLoad",
        "MessageProcessing",
        "AICostBudget",
    } <= names
    for spec in load_dir(default_rules_dir()):
        assert (REPO / spec.annotations["runbook_url"]).exists(), spec.annotations["runbook_url"]


def test_for_on_slo_tiers_and_per_tier_minimum_events_are_parsed(make_specs: Specs) -> None:
    body = BASE + ANNOTATIONS.lstrip("\n") + "    for: 2m\n    min_events: 50\n"
    body += "    tiers: {page_fast: {min_events: 300}, ticket_slow: {enabled: false}}\n"
    (spec,) = make_specs(body)
    assert spec.for_ == 120
    assert [(t.name, t.min_events) for t in spec.tiers] == [
        ("page_fast", 300.0),
        ("page_slow", 50.0),
        ("ticket_fast", 50.0),
    ]
