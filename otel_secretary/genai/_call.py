"""One traced GenAI call: start the util-genai invocation, fold in results and chunks, end it once.

Shared by the decorator's four wrappers and by the stream proxies. Every method that runs on the
host app's path swallows its own failures (reported to self-monitoring): a bug here must cost us a
span, never the caller its answer.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any, Final

from opentelemetry import baggage
from opentelemetry.context import Context, attach, detach, get_value
from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as GenAI
from opentelemetry.semconv._incubating.attributes import openai_attributes as OpenAI
from opentelemetry.util.genai.invocation import CLIENT_INFERENCE_CONTEXT_KEY
from opentelemetry.util.genai.types import Error

from otel_secretary._internal.self_monitoring import report_internal_error
from otel_secretary.errors import record_exception

from ._content import input_messages, masked_json, output_messages, tool_call_attributes
from ._direct import DecoratorSlot, DirectInference, direct_inference_possible
from ._extract import RequestFacts, ResponseFacts, Usage, read_chunk, read_request, read_response
from ._feedback import remember_response
from ._telemetry import (
    COST_ATTRIBUTE,
    TENANT_KEY,
    GenAITelemetry,
    conversation_from_baggage,
    default_telemetry,
)

_MAX_STATUS_DESCRIPTION: Final = 256
# Parameter names that hold the prompt, in order of preference (OpenAI's names first).
_PROMPT_PARAMETERS: Final = ("messages", "input", "prompt", "text")


class CallSpec:
    """What the decorator was told; resolved once at decoration time."""

    __slots__ = ("capture_content", "model", "operation", "prompt_position", "provider", "telemetry")

    def __init__(
        self,
        operation: str,
        model: str | None,
        provider: str,
        capture_content: bool | None,
        telemetry: GenAITelemetry | None,
    ) -> None:
        self.operation = operation
        self.model = model
        self.provider = provider
        self.capture_content = capture_content
        self.telemetry = telemetry
        # (name, position) of the prompt parameter, found once from the signature: no per-call binding.
        self.prompt_position: tuple[str, int] | None = None

    def find_prompt_parameter(self, signature: inspect.Signature | None) -> None:
        if signature is None:
            return
        positional = [
            p.name
            for p in signature.parameters.values()
            if p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        ]
        for name in _PROMPT_PARAMETERS:
            if name in positional:
                self.prompt_position = (name, positional.index(name))
                return

    def prompt_argument(self, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> Any:
        """The call's messages/prompt, by parameter name, whether passed by keyword or position."""
        for name in _PROMPT_PARAMETERS:
            if name in kwargs:
                return kwargs[name]
        if self.prompt_position is None:
            return None
        _name, index = self.prompt_position
        return args[index] if index < len(args) else None


class TracedCall:
    """The live state of one call. Create with :meth:`start`; end with :meth:`finish` or :meth:`fail`."""

    __slots__ = (
        "_capture",
        "_done",
        "_embedding",
        "_read_from",
        "_request",
        "_telemetry",
        "_tenant",
        "facts",
        "invocation",
        "spec",
    )

    def __init__(
        self,
        spec: CallSpec,
        telemetry: GenAITelemetry,
        args: tuple[Any, ...],
        kwargs: Mapping[str, Any],
        attach_context: bool,
    ) -> None:
        self.spec = spec
        self._telemetry = telemetry
        self._request: RequestFacts = read_request(kwargs)
        self._capture = telemetry.capture_content if spec.capture_content is None else spec.capture_content
        if self._capture:
            self._request.messages = spec.prompt_argument(args, kwargs)
        self._embedding = spec.operation == GenAI.GenAiOperationNameValues.EMBEDDINGS.value
        self._done = False
        self._read_from: Any = None
        tenant = baggage.get_baggage(TENANT_KEY)
        self._tenant = str(tenant) if tenant else None
        # The call's own model= wins: the decorator's model is the default the function falls back to.
        model = self._request.model or spec.model
        handler = telemetry.handler
        if self._embedding:
            self.invocation: Any = handler.embedding(
                spec.provider, request_model=model, _attach_to_context=attach_context
            )
        else:
            conversation_id = self._request.conversation_id or conversation_from_baggage()
            if direct_inference_possible(handler):
                self.invocation = DirectInference(
                    handler, spec.provider, model, spec.operation, attach_context, conversation_id
                )
            else:
                self.invocation = handler.inference(
                    spec.provider,
                    request_model=model,
                    operation_name=spec.operation,
                    _attach_to_context=attach_context,
                    conversation_id=conversation_id,
                )
            self._apply_request()
        self.facts = ResponseFacts()

    @classmethod
    def start(
        cls, spec: CallSpec, args: tuple[Any, ...], kwargs: Mapping[str, Any], attach_context: bool
    ) -> TracedCall | None:
        """A started call, or None if starting failed (the caller then runs the function untraced)."""
        try:
            telemetry = spec.telemetry or default_telemetry()
            return cls(spec, telemetry, args, kwargs, attach_context)
        except Exception as exc:
            report_internal_error("genai.start", exc)
            return None

    @property
    def context(self) -> Context:
        context: Context = self.invocation.context
        return context

    @property
    def finished(self) -> bool:
        return self._done

    def _apply_request(self) -> None:
        request, data = self._request, self.invocation.data
        floats = request.floats
        data.request_temperature = floats.get("temperature")
        data.request_top_p = floats.get("top_p")
        data.request_frequency_penalty = floats.get("frequency_penalty")
        data.request_presence_penalty = floats.get("presence_penalty")
        data.request_max_tokens = request.max_tokens
        data.request_stop_sequences = request.stop_sequences
        data.request_seed = request.seed
        data.request_choice_count = request.choice_count
        if request.stream:
            self.invocation.request_stream = True
        if request.service_tier and self.spec.provider == "openai":
            self.invocation.attributes[OpenAI.OPENAI_REQUEST_SERVICE_TIER] = request.service_tier

    # -- results -----------------------------------------------------------------------------------

    def on_result(self, result: Any) -> None:
        try:
            self._read_from = result
            read_response(result, self.facts)
        except Exception as exc:
            report_internal_error("genai.read_response", exc)

    def on_chunk(self, chunk: Any) -> None:
        try:
            self.invocation.record_stream_chunk()
            read_chunk(chunk, self.facts)
        except Exception as exc:
            report_internal_error("genai.read_chunk", exc)

    def suspend(self) -> None:
        """Detach the call's context before handing a live stream back to the caller."""
        self.invocation.suspend()

    def activate(self) -> object:
        return attach(self.context)

    @staticmethod
    def deactivate(token: object) -> None:
        detach(token)  # type: ignore[arg-type]

    # -- ending ------------------------------------------------------------------------------------

    def finish(self) -> None:
        if self._done:
            return
        self._done = True
        try:
            self._apply_response()
        except Exception as exc:
            report_internal_error("genai.apply_response", exc)
        try:
            self.invocation.stop()
        except Exception as exc:
            report_internal_error("genai.stop", exc)

    def fail(self, exc: BaseException) -> None:
        if self._done:
            return
        self._done = True
        span = self.invocation.span
        try:
            self._apply_response()
            # Category, severity and fingerprint from the errors module, which adds the exception event.
            record_exception(span, exc, system=self.spec.provider)
        except Exception as failure:
            report_internal_error("genai.record_exception", failure)
        try:
            message = self._telemetry.mask(_safe_str(exc)) or ""
            error_type = _error_type(exc)
            self.invocation.fail(
                Error(message=message[:_MAX_STATUS_DESCRIPTION], type=error_type, exception=exc)
            )
        except Exception as failure:
            report_internal_error("genai.fail", failure)

    def _apply_response(self) -> None:
        facts, invocation, provider = self.facts, self.invocation, self.spec.provider
        inner = self._inner_response()
        if inner is not None and inner is not self._read_from:
            # The function returned something else (its text, a dict, the raw response): the client's
            # own answer fills what that did not say, as an inner invocation's published data would.
            facts.fill_from(read_response(inner))
        if facts.response_model:
            invocation.response_model_name = facts.response_model
        usage = facts.usage
        if self._embedding:
            if usage.input_tokens is not None:
                invocation.input_tokens = usage.input_tokens
            if facts.embedding_dimensions is not None:
                invocation.dimension_count = facts.embedding_dimensions
        else:
            data = invocation.data
            if facts.response_id:
                data.response_id = facts.response_id
            if facts.finish_reasons:
                data.response_finish_reasons = list(facts.finish_reasons)
            data.usage_input_tokens = usage.input_tokens
            data.usage_output_tokens = usage.output_tokens
            data.usage_cache_read_input_tokens = usage.cache_read_tokens
            data.usage_reasoning_output_tokens = usage.reasoning_tokens
            if facts.conversation_id and not invocation.conversation_id:
                invocation.conversation_id = facts.conversation_id
            if facts.tool_calls:
                invocation.attributes.update(
                    tool_call_attributes((c.call_id, c.name) for c in facts.tool_calls.values())
                )
            if usage.cache_write_tokens:
                # v1.41 name; util-genai 1.3b0 would write the unreleased cache_write name instead.
                invocation.attributes[GenAI.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS] = (
                    usage.cache_write_tokens
                )
            if provider == "openai":
                if facts.service_tier:
                    invocation.attributes[OpenAI.OPENAI_RESPONSE_SERVICE_TIER] = facts.service_tier
                if facts.system_fingerprint:
                    invocation.attributes[OpenAI.OPENAI_RESPONSE_SYSTEM_FINGERPRINT] = (
                        facts.system_fingerprint
                    )
                if inner is not None:
                    # What genai-openai's response reading puts on the metric points.
                    _set_response_metric_attributes(invocation.metric_attributes, facts)
            if not usage.known:
                usage = self._inner_usage()
            if facts.response_id:
                remember_response(
                    facts.response_id,
                    invocation.span.get_span_context(),
                    invocation.request_model or self._model(),
                )
        self._record_cost(usage)
        if self._capture:
            self._capture_content()

    def _model(self) -> str | None:
        model: str | None = self.facts.response_model or self.invocation.request_model
        return model

    def _inner_response(self) -> Any:
        """The response an instrumented OpenAI client call inside us left in our slot, if any."""
        slot = get_value(CLIENT_INFERENCE_CONTEXT_KEY, context=self.context)
        return getattr(slot, "inner_response", None) if type(slot) is DecoratorSlot else None

    def _inner_usage(self) -> Usage:
        """Usage an instrumented client call inside us published to the shared context (one span, S17)."""
        data = get_value(CLIENT_INFERENCE_CONTEXT_KEY, context=self.context)
        if data is None:
            return Usage()
        return Usage(
            input_tokens=getattr(data, "usage_input_tokens", None),
            output_tokens=getattr(data, "usage_output_tokens", None),
            cache_read_tokens=getattr(data, "usage_cache_read_input_tokens", None),
            reasoning_tokens=getattr(data, "usage_reasoning_output_tokens", None),
        )

    def _record_cost(self, usage: Usage) -> None:
        if not usage.known:
            return
        cost = self._telemetry.record_cost(
            self.spec.provider, self.invocation.request_model, self._model(), usage, self._tenant
        )
        if cost is not None:
            self.invocation.attributes[COST_ATTRIBUTE] = cost

    def _capture_content(self) -> None:
        mask = self._telemetry.mask
        inputs = masked_json(input_messages(self._request.messages), mask)
        if inputs:
            self.invocation.attributes[GenAI.GEN_AI_INPUT_MESSAGES] = inputs
        if self._embedding:
            return
        outputs = masked_json(output_messages(self.facts), mask)
        if outputs:
            self.invocation.attributes[GenAI.GEN_AI_OUTPUT_MESSAGES] = outputs


def _set_response_metric_attributes(metric_attributes: dict[str, Any], facts: ResponseFacts) -> None:
    if facts.service_tier:
        metric_attributes.setdefault(OpenAI.OPENAI_RESPONSE_SERVICE_TIER, facts.service_tier)
    if facts.system_fingerprint:
        metric_attributes.setdefault(OpenAI.OPENAI_RESPONSE_SYSTEM_FINGERPRINT, facts.system_fingerprint)


def _error_type(exc: BaseException) -> str:
    """Fully qualified class name (``openai.RateLimitError``), as util-genai and genai-openai emit."""
    cls = type(exc)
    module = cls.__module__
    return cls.__qualname__ if module in (None, "builtins") else f"{module}.{cls.__qualname__}"


def _safe_str(exc: BaseException) -> str:
    try:
        return str(exc)
    except Exception:
        return ""
