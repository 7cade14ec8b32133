"""The shipped alert rules read our names: a rename on either side fails here, not in production."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

import otel_secretary
from otel_secretary.genai import COST_METRIC
from otel_secretary.genai._telemetry import TENANT_KEY

SPECS = Path(otel_secretary.__file__).parent / "rules" / "specs"


def _rule(file: str, name: str) -> dict[str, Any]:
    rules = yaml.safe_load((SPECS / file).read_text())["rules"]
    (rule,) = [r for r in rules if r["name"] == name]
    return dict(rule)


def test_ai_cost_budget_reads_our_cost_counter() -> None:
    rule = _rule("business.yaml", "AICostBudget")
    assert rule["metric"] == COST_METRIC and rule["unit"] == "USD" and rule["type"] == "counter"
    assert TENANT_KEY.replace(".", "_") in rule["by"]


def test_external_api_rules_select_our_span_names() -> None:
    openai_rule = _rule("external.yaml", "OpenAIAvailability")
    assert re.fullmatch(openai_rule["selector"]["span_name_regex"], "chat gpt-4o-mini")
    assert re.fullmatch(openai_rule["selector"]["span_name_regex"], "embeddings text-embedding-3-small")
    assert openai_rule["sdk"]["metric"] == "gen_ai.client.operation.duration"
    assert "stripe POST /v1/customers".startswith(
        _rule("external.yaml", "StripeErrorRate")["selector"]["span_name_prefix"]
    )
    assert "calendar.events.insert".startswith(
        _rule("external.yaml", "CalendarErrorRate")["selector"]["span_name_prefix"]
    )
