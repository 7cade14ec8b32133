"""Agent spans against the installed semantic conventions (names from opentelemetry-semantic-conventions).

Every ``gen_ai.*`` key our tool/agent/workflow/chat spans carry must be one the conventions define
(the installed semconv package, plus the newer names util-genai emits and documents), so an invented
or misspelt name fails here; span names and kinds follow the v1.41 span definitions.
"""

from __future__ import annotations

from typing import Any

import openai
from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as GenAI
from opentelemetry.trace import SpanKind

from otel_secretary import request_context
from otel_secretary.genai import GenAITelemetry
from tests.support.otel_harness import Harness

from .agent_app import INBOUND, Agent

DEFINED = {
    value for name, value in vars(GenAI).items() if name.startswith("GEN_AI_") and isinstance(value, str)
}
# Newer than the installed semconv module, emitted by util-genai 1.3 (semantic-conventions-genai main).
NEWER = {"gen_ai.usage.cache_write.input_tokens"}
OPERATIONS = {v.value for v in GenAI.GenAiOperationNameValues}
EXPECTED_KIND = {
    GenAI.GenAiOperationNameValues.INVOKE_WORKFLOW.value: SpanKind.INTERNAL,
    GenAI.GenAiOperationNameValues.INVOKE_AGENT.value: SpanKind.INTERNAL,  # in-process agent (v1.41)
    GenAI.GenAiOperationNameValues.EXECUTE_TOOL.value: SpanKind.INTERNAL,
    GenAI.GenAiOperationNameValues.CHAT.value: SpanKind.CLIENT,
}
NAME_ATTRIBUTE = {
    GenAI.GenAiOperationNameValues.INVOKE_WORKFLOW.value: GenAI.GEN_AI_WORKFLOW_NAME,
    GenAI.GenAiOperationNameValues.INVOKE_AGENT.value: GenAI.GEN_AI_AGENT_NAME,
    GenAI.GenAiOperationNameValues.EXECUTE_TOOL.value: GenAI.GEN_AI_TOOL_NAME,
    GenAI.GenAiOperationNameValues.CHAT.value: GenAI.GEN_AI_REQUEST_MODEL,
}


def test_agent_trace_uses_only_defined_gen_ai_names(otel: Harness, client: openai.OpenAI) -> None:
    telemetry = GenAITelemetry(otel.tracer_provider, otel.meter_provider, capture_content=True)
    with request_context(conversation_id="conv-conformance"):
        Agent(client, telemetry, True, otel).run(INBOUND)
    seen: set[str] = set()
    operations: set[Any] = set()
    for span in otel.spans():
        operation = span.attributes.get(GenAI.GEN_AI_OPERATION_NAME)
        if operation is None:
            continue  # the test's own outbound stand-in spans
        operations.add(operation)
        assert operation in OPERATIONS
        assert span.kind is EXPECTED_KIND[str(operation)], span.name
        assert span.name == f"{operation} {span.attributes[NAME_ATTRIBUTE[str(operation)]]}"
        seen.update(key for key in span.attributes if key.startswith("gen_ai."))
    assert operations == set(EXPECTED_KIND)
    unknown = seen - DEFINED - NEWER
    assert not unknown, f"not in the conventions: {sorted(unknown)}"
    # The opt-in and recommended names this feature is about are all exercised.
    for key in (
        GenAI.GEN_AI_TOOL_NAME,
        GenAI.GEN_AI_TOOL_CALL_ID,
        GenAI.GEN_AI_TOOL_TYPE,
        GenAI.GEN_AI_TOOL_DESCRIPTION,
        GenAI.GEN_AI_TOOL_CALL_ARGUMENTS,
        GenAI.GEN_AI_TOOL_CALL_RESULT,
        GenAI.GEN_AI_AGENT_NAME,
        GenAI.GEN_AI_WORKFLOW_NAME,
        GenAI.GEN_AI_CONVERSATION_ID,
        GenAI.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
        GenAI.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS,
        GenAI.GEN_AI_OUTPUT_MESSAGES,
    ):
        assert key in seen, key


def test_agent_metrics_units(otel: Harness, client: openai.OpenAI) -> None:
    telemetry = GenAITelemetry(otel.tracer_provider, otel.meter_provider)
    Agent(client, telemetry, True, otel).run(INBOUND)
    metrics = otel.metrics()
    for name in (
        "gen_ai.execute_tool.duration",
        "gen_ai.invoke_agent.duration",
        "gen_ai.invoke_workflow.duration",
    ):
        assert metrics[name].unit == "s", name
