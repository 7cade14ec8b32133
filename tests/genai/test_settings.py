"""GenAITelemetry.from_settings honours the OTEL_SECRETARY_* content and PII settings."""

from __future__ import annotations

from typing import Any

from otel_secretary.genai import GenAITelemetry, traced_ai_call
from otel_secretary.settings import load_settings

from .otel_harness import Harness


def test_settings_masker_is_used_for_content(otel: Harness) -> None:
    settings = load_settings(
        {
            "OTEL_SECRETARY_CAPTURE_CONTENT": "true",
            "OTEL_SECRETARY_PII_MODE": "pseudonym",
            "OTEL_SECRETARY_PII_KEY": "test-key-not-secret",
        }
    )
    telemetry = GenAITelemetry.from_settings(settings, otel.tracer_provider, otel.meter_provider)

    @traced_ai_call(model="gpt-4o-mini", telemetry=telemetry)
    def answer(prompt: str) -> dict[str, Any]:
        return {"choices": [{"message": {"content": "ok"}, "finish_reason": "stop"}]}

    answer("mail carol@example.com")
    (span,) = otel.spans()
    captured = str(span.attributes["gen_ai.input.messages"])
    assert "carol@example.com" not in captured
    assert "<email:" in captured  # pseudonym mode: typed and keyed, so it correlates
