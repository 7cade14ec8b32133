"""GenAITelemetry.from_settings honours the OTEL_SECRETARY_* content and PII settings."""

from __future__ import annotations

from typing import Any

from otel_secretary.genai import GenAITelemetry, traced_ai_call
from otel_secretary.settings import load_settings
from tests.support.otel_harness import Harness


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


def test_invalid_prices_file_falls_back_to_library_prices(tmp_path: Any, otel: Harness) -> None:
    from otel_secretary._internal.self_monitoring import internal_error_counts

    bad = tmp_path / "prices.yaml"
    bad.write_text("models: [not, a, mapping]\n")
    before = internal_error_counts().get("genai.prices_file", 0)
    settings = load_settings({"OTEL_SECRETARY_PRICES_FILE": str(bad)})
    telemetry = GenAITelemetry.from_settings(settings, otel.tracer_provider, otel.meter_provider)
    assert internal_error_counts()["genai.prices_file"] == before + 1

    @traced_ai_call(telemetry=telemetry)
    def answer(model: str) -> dict[str, Any]:
        return {"usage": {"prompt_tokens": 1_000_000, "completion_tokens": 0}}

    answer(model="gpt-4o-mini")
    (span,) = otel.spans()
    assert span.attributes["app.genai.cost_usd"] == 0.15  # genai-prices' gpt-4o-mini input price


def test_call_model_overrides_decorator_default(otel: Harness) -> None:
    telemetry = GenAITelemetry(otel.tracer_provider, otel.meter_provider)

    @traced_ai_call(model="gpt-4o-mini", telemetry=telemetry)
    def answer(model: str = "gpt-4o-mini") -> dict[str, Any]:
        return {}

    answer(model="gpt-4.1")
    answer()
    assert sorted(s.name for s in otel.spans()) == ["chat gpt-4.1", "chat gpt-4o-mini"]
