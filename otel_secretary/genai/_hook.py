"""What the auto-instrumented ``openai`` path gets from us: cost, masked content, requested tool calls.

genai-openai owns those spans; its public extension point is util-genai's completion hook, which
it calls once per model call with the call's messages and its span, after the span's attributes
are set and before it ends. Our hook reads the token counts from those attributes, so the cost
attribute and metric match the decorator path's (same :class:`PriceBook`, same counter), sets the
``app.genai.tool_call.*`` attributes from the output's ``tool_call`` parts, remembers the response
id for :func:`record_feedback`, and, when ``OTEL_SECRETARY_CAPTURE_CONTENT`` is on, writes the
messages masked. A hook the user configured (``OTEL_INSTRUMENTATION_GENAI_COMPLETION_HOOK``) still
runs first.

Limitation: cost is read from the span, so a call whose span was not sampled gets no cost point.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as GenAI

from otel_secretary._internal.self_monitoring import report_internal_error

from ._content import masked_json, requested_tool_calls, tool_call_attributes
from ._extract import Usage
from ._feedback import remember_response
from ._telemetry import COST_ATTRIBUTE, GenAITelemetry, tenant_from_baggage

_CACHE_WRITE_NAMES: Final = (
    GenAI.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS,
    "gen_ai.usage.cache_write.input_tokens",
)
_MODEL_OPERATIONS: Final = frozenset({"chat", "text_completion", "generate_content", "embeddings"})


def _int(attributes: Mapping[str, Any], *names: str) -> int | None:
    for name in names:
        value = attributes.get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


class SecretaryCompletionHook:
    """util-genai ``CompletionHook``: cost, tool calls, feedback lookup and masked content per call."""

    def __init__(self, telemetry: GenAITelemetry, inner: Any = None) -> None:
        self.telemetry = telemetry
        self.inner = inner

    def on_completion(
        self,
        *,
        inputs: list[Any],
        outputs: list[Any],
        system_instruction: list[Any],
        tool_definitions: list[Any] | None = None,
        span: Any = None,
        log_record: Any = None,
    ) -> None:
        if self.inner is not None:
            try:
                self.inner.on_completion(
                    inputs=inputs,
                    outputs=outputs,
                    system_instruction=system_instruction,
                    tool_definitions=tool_definitions,
                    span=span,
                    log_record=log_record,
                )
            except Exception as exc:
                report_internal_error("genai.inner_completion_hook", exc)
        if span is None or not span.is_recording():
            return
        try:
            self._enrich(span, inputs, outputs, system_instruction)
        except Exception as exc:
            report_internal_error("genai.completion_hook", exc)

    def _enrich(
        self, span: Any, inputs: list[Any], outputs: list[Any], system_instruction: list[Any]
    ) -> None:
        attributes: Mapping[str, Any] = getattr(span, "attributes", None) or {}
        if attributes.get(GenAI.GEN_AI_OPERATION_NAME) not in _MODEL_OPERATIONS:
            return
        telemetry = self.telemetry
        provider = str(attributes.get(GenAI.GEN_AI_PROVIDER_NAME) or "openai")
        request_model = attributes.get(GenAI.GEN_AI_REQUEST_MODEL)
        response_model = attributes.get(GenAI.GEN_AI_RESPONSE_MODEL)
        usage = Usage(
            input_tokens=_int(attributes, GenAI.GEN_AI_USAGE_INPUT_TOKENS),
            output_tokens=_int(attributes, GenAI.GEN_AI_USAGE_OUTPUT_TOKENS),
            cache_read_tokens=_int(attributes, GenAI.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS),
            cache_write_tokens=_int(attributes, *_CACHE_WRITE_NAMES),
            reasoning_tokens=_int(attributes, GenAI.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS),
        )
        if usage.known:
            cost = telemetry.record_cost(
                provider,
                request_model if isinstance(request_model, str) else None,
                response_model if isinstance(response_model, str) else None,
                usage,
                tenant_from_baggage(),
            )
            if cost is not None:
                span.set_attribute(COST_ATTRIBUTE, cost)
        calls = requested_tool_calls(outputs)
        if calls:
            span.set_attributes(tool_call_attributes(calls))
        response_id = attributes.get(GenAI.GEN_AI_RESPONSE_ID)
        if isinstance(response_id, str) and response_id:
            model = request_model if isinstance(request_model, str) else None
            remember_response(response_id, span.get_span_context(), model)
        if telemetry.capture_content:
            mask = telemetry.mask
            for key, value in (
                (GenAI.GEN_AI_INPUT_MESSAGES, inputs),
                (GenAI.GEN_AI_OUTPUT_MESSAGES, outputs),
                (GenAI.GEN_AI_SYSTEM_INSTRUCTIONS, system_instruction),
            ):
                masked = masked_json(value, mask)
                if masked:
                    span.set_attribute(key, masked)
