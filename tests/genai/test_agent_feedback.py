"""record_feedback: the conventions' gen_ai.evaluation.result event on the answer's span, and a metric."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import openai
import pytest
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as GenAI

from otel_secretary.genai import (
    EVALUATION_EVENT,
    FEEDBACK_METRIC,
    FEEDBACK_SENTIMENT,
    GenAITelemetry,
    record_feedback,
    traced_ai_call,
)
from otel_secretary.instrumentation.openai import SecretaryOpenAIInstrumentor
from tests.support.otel_harness import Harness

MESSAGES = [{"role": "user", "content": "Draft a reply to the offsite invitation"}]


@pytest.fixture
def logs() -> Iterator[tuple[LoggerProvider, InMemoryLogRecordExporter]]:
    exporter = InMemoryLogRecordExporter()
    provider = LoggerProvider()
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    yield provider, exporter
    provider.shutdown()


def _records(exporter: InMemoryLogRecordExporter) -> list[Any]:
    return [data.log_record for data in exporter.get_finished_logs()]


def test_feedback_by_response_id_is_an_evaluation_event_on_the_chat_span(
    otel: Harness, client: openai.OpenAI, logs: tuple[LoggerProvider, InMemoryLogRecordExporter]
) -> None:
    provider, exporter = logs
    telemetry = GenAITelemetry(otel.tracer_provider, otel.meter_provider, provider)

    @traced_ai_call(telemetry=telemetry)
    def draft(model: str) -> Any:
        return client.chat.completions.create(model=model, messages=MESSAGES)

    first = draft(model="gpt-4o-mini")
    second = draft(model="gpt-4o-mini")
    comment = "Wrong date; write to frank.ocean@example.com or call +44 20 7946 0958"
    assert record_feedback(first.id, 0.0, comment=comment, telemetry=telemetry) is True
    assert record_feedback(second.id, 1.0, label="helpful", telemetry=telemetry) is True

    spans = {s.attributes[GenAI.GEN_AI_RESPONSE_ID]: s for s in otel.spans("chat gpt-4o-mini")}
    down, up = _records(exporter)
    assert down.event_name == up.event_name == EVALUATION_EVENT
    assert (down.trace_id, down.span_id) == (
        spans[first.id].context.trace_id,
        spans[first.id].context.span_id,
    )
    assert up.span_id == spans[second.id].context.span_id
    assert down.attributes[GenAI.GEN_AI_EVALUATION_NAME] == "user_feedback"
    assert down.attributes[GenAI.GEN_AI_EVALUATION_SCORE_VALUE] == 0.0
    assert down.attributes[GenAI.GEN_AI_EVALUATION_SCORE_LABEL] == "negative"
    assert up.attributes[GenAI.GEN_AI_EVALUATION_SCORE_LABEL] == "helpful"
    assert down.attributes[GenAI.GEN_AI_RESPONSE_ID] == first.id
    explanation = down.attributes[GenAI.GEN_AI_EVALUATION_EXPLANATION]
    assert "frank.ocean@example.com" not in explanation and "7946" not in explanation
    assert "<email>" in explanation and "Wrong date" in explanation

    counts = {p.attributes[FEEDBACK_SENTIMENT]: p for p in otel.points(FEEDBACK_METRIC)}
    assert counts["negative"].value == counts["positive"].value == 1
    assert counts["negative"].attributes[GenAI.GEN_AI_REQUEST_MODEL] == "gpt-4o-mini"


def test_feedback_on_the_auto_instrumented_path_and_by_span_context(
    otel: Harness, client: openai.OpenAI, logs: tuple[LoggerProvider, InMemoryLogRecordExporter]
) -> None:
    provider, exporter = logs
    telemetry = GenAITelemetry(otel.tracer_provider, otel.meter_provider, provider)
    instrumentor = SecretaryOpenAIInstrumentor()
    instrumentor.instrument(
        tracer_provider=otel.tracer_provider, meter_provider=otel.meter_provider, genai_telemetry=telemetry
    )
    try:
        answer = client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    finally:
        instrumentor.uninstrument()
    (span,) = otel.spans("chat gpt-4o")
    assert record_feedback(answer.id, 0.2, telemetry=telemetry) is True
    # From another process only the stored span context is known: still linked, model given explicitly.
    assert record_feedback(span.context, 0.0, model="gpt-4o", telemetry=telemetry) is True
    by_id, by_context = _records(exporter)
    assert by_id.span_id == by_context.span_id == span.context.span_id
    (negative,) = [p for p in otel.points(FEEDBACK_METRIC) if p.attributes[FEEDBACK_SENTIMENT] == "negative"]
    assert negative.value == 2 and negative.attributes[GenAI.GEN_AI_REQUEST_MODEL] == "gpt-4o"


def test_unknown_response_id_is_recorded_unlinked_and_never_raises(
    otel: Harness, logs: tuple[LoggerProvider, InMemoryLogRecordExporter]
) -> None:
    provider, exporter = logs
    telemetry = GenAITelemetry(otel.tracer_provider, otel.meter_provider, provider)
    assert record_feedback("chatcmpl-never-seen", 1.0, telemetry=telemetry) is False
    assert record_feedback("chatcmpl-never-seen", "not a number", telemetry=telemetry) is False  # type: ignore[arg-type]
    (record,) = _records(exporter)
    assert record.span_id in (None, 0)
    assert record.attributes[GenAI.GEN_AI_RESPONSE_ID] == "chatcmpl-never-seen"
