"""The decorator's inference span and ``@traced_tool``'s span without util-genai's per-call machinery.

util-genai's ``handler.inference()`` … ``stop()`` costs about twice the SDK floor for one span and its
metric points: two 48-field dataclasses, env lookups, property indirection and a field-by-field merge
per call. :class:`DirectInference` does what that lifecycle does for the one case the decorator
needs most (a root inference call, no events, no completion hook) with util-genai's own pieces: the
same tracer and instruments (the handler's), the same :class:`InferenceData` published in the context
under ``CLIENT_INFERENCE_CONTEXT_KEY`` (so an instrumented client call inside is suppressed and
publishes into ours, S17), util-genai's ``_get_attributes`` to turn the data into span attributes, and
the same metric points with the same attributes. :func:`direct_inference_possible` says when that
holds; otherwise the decorator uses util-genai itself (nested calls, embeddings, events on).
:class:`DirectTool` does the same for util-genai's ``ToolInvocation`` (``@traced_tool``).

tests/genai and tests/instrumentation compare the two paths' output through the decorator's tests,
which were written against util-genai.
"""

from __future__ import annotations

import dataclasses
import typing
from timeit import default_timer
from typing import Any, Final, TypeVar

from opentelemetry.context import Context, attach, detach, get_value, set_value
from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as GenAI
from opentelemetry.semconv.attributes import error_attributes, server_attributes
from opentelemetry.trace import SpanKind, Status, StatusCode, set_span_in_context
from opentelemetry.util.genai._conversation_context import get_ambient_conversation_id, with_conversation_id
from opentelemetry.util.genai._inference_invocation import InferenceInvocation, _should_emit_event
from opentelemetry.util.genai.completion_hook import _NoOpCompletionHook
from opentelemetry.util.genai.invocation import CLIENT_INFERENCE_CONTEXT_KEY, InferenceData
from opentelemetry.util.genai.types import Error
from opentelemetry.util.types import AttributeValue

# An InferenceData nobody has published into: comparing against it tells whether a merge is needed.
_UNTOUCHED: Final = vars(InferenceData())
# Its defaults, and the fields that need a fresh value each time (the attribute dicts): the dataclass's
# generated ``__init__`` assigns 48 fields one by one, ~2 µs twice per call (the data and the slot).
_DEFAULTS: Final = {
    f.name: f.default for f in dataclasses.fields(InferenceData) if f.default_factory is dataclasses.MISSING
}
_FACTORIES: Final = tuple(
    # ``dict[str, AttributeValue]`` called is ``dict()`` the slow way
    (f.name, typing.get_origin(f.default_factory) or f.default_factory)
    for f in dataclasses.fields(InferenceData)
    if f.default_factory is not dataclasses.MISSING
)
_DataT = TypeVar("_DataT", bound=InferenceData)


def _from_defaults(cls: type[_DataT], **values: Any) -> _DataT:
    data = object.__new__(cls)
    fields = data.__dict__
    fields.update(_DEFAULTS)
    for name, factory in _FACTORIES:
        fields[name] = factory()
    fields.update(values)
    return data


def _shortcut_holds() -> bool:
    """The shortcut needs a plain dataclass: instances with a ``__dict__``, every field defaulted, no
    ``__post_init__``. Checked once against the real constructor, so a util-genai release that changes
    any of that makes every call use the constructor instead of failing (and going untraced)."""
    try:
        if hasattr(InferenceData, "__post_init__"):
            return False
        fast = _from_defaults(InferenceData, provider_name="openai", request_model="probe")
        return vars(fast) == vars(InferenceData(provider_name="openai", request_model="probe"))
    except Exception:
        return False


_SHORTCUT: Final = _shortcut_holds()


def new_inference_data(cls: type[_DataT], **values: Any) -> _DataT:
    """``cls(**values)`` for :class:`InferenceData` and its subclasses, without the generated ``__init__``
    when :func:`_shortcut_holds`: exactly what that ``__init__`` leaves (every default, a fresh value from
    each factory, then ``values``); ``tests/genai/test_direct_inference.py`` checks both ways."""
    if not _SHORTCUT:
        return cls(**values)
    return _from_defaults(cls, **values)


_CONTENT_FIELDS: Final = (
    "input_messages",
    "output_messages",
    "system_instructions",
    "prompt_variable",
    "tool_definitions",
)
# Not merged field by field: the attribute dicts are merged key by key, content as _enrich says.
_NOT_MERGED: Final = frozenset(
    {"attributes", "metric_attributes", "capture_content", "upload_completion", *_CONTENT_FIELDS}
)
_INPUT: Final = GenAI.GenAiTokenTypeValues.INPUT.value
_OUTPUT: Final = GenAI.GenAiTokenTypeValues.OUTPUT.value
# Metric attribute sets per (operation, models, server): built and hashed once, not per call. The
# SDK copies what it is given, so sharing them is safe. Bounded: models and servers are few.
_MetricSets = tuple[dict[str, AttributeValue], dict[str, AttributeValue], dict[str, AttributeValue]]
_METRIC_SETS: dict[Any, _MetricSets] = {}
_MAX_METRIC_SETS: Final = 1024
_MAX_KEYED_EXTRAS: Final = 4
# util-genai's attribute assembly, reused so the span's attributes stay util-genai's by construction.
_get_attributes: Any = InferenceInvocation._get_attributes
_get_finish_reasons: Any = InferenceInvocation._get_finish_reasons


def direct_inference_possible(handler: Any) -> bool:
    """Whether :class:`DirectInference` gives exactly what ``handler.inference()`` would, here and now.

    Not when an inference is already in progress in this context (util-genai then suppresses ours and
    publishes into the outer one), when events would be emitted, or when a completion hook is set.
    """
    if isinstance(get_value(CLIENT_INFERENCE_CONTEXT_KEY), InferenceData):
        return False
    if not hasattr(handler, "_tracer") or not hasattr(handler, "_instruments"):
        return False
    if not isinstance(getattr(handler, "_completion_hook", None), _NoOpCompletionHook):
        return False
    mode: Any = getattr(handler, "_content_capturing_mode", None)
    return not _should_emit_event(mode)


class DecoratorSlot(InferenceData):
    """The context slot of a :class:`DirectInference`: util-genai's type, so inner calls publish into it.

    Its own class so our OpenAI instrumentor can tell that the decorator's direct path is the outer
    invocation (see ``otel_secretary.instrumentation.openai_inside_decorator``). That instrumentor
    leaves the client's response in ``inner_response`` rather than reading it: the decorator reads
    responses itself, and most decorated functions return that same object, so it is read once.
    A slot, not a field, so it is never merged or compared as published data.
    """

    __slots__ = ("inner_response",)

    inner_response: Any


class _DirectInvocation:
    """What both direct invocations keep of util-genai's ``stop()``/``fail()``: the span ends once, an
    error sets the status and ``error.type`` (span and metric), and whatever ``_apply_finish`` does,
    the context is detached and the span ended."""

    __slots__ = (
        "_context_token",
        "_finished",
        "_instruments",
        "_span_context",
        "_start",
        "attributes",
        "metric_attributes",
        "span",
    )

    _context_token: object | None
    _finished: bool
    span: Any
    attributes: dict[str, AttributeValue]
    metric_attributes: dict[str, AttributeValue]

    def suspend(self) -> None:
        token, self._context_token = self._context_token, None
        if token is not None:
            detach(token)  # type: ignore[arg-type]

    def stop(self) -> None:
        self._finish(None)

    def fail(self, error: Error) -> None:
        self._finish(error)

    def _finish(self, error: Error | None) -> None:
        if self._finished:
            return
        self._finished = True
        try:
            if error is not None:
                self.span.set_status(Status(StatusCode.ERROR, error.message))
                self.attributes[error_attributes.ERROR_TYPE] = error.type
                self.metric_attributes[error_attributes.ERROR_TYPE] = error.type
            self._apply_finish()
        finally:
            # suspend(), inlined: this runs once per call.
            token, self._context_token = self._context_token, None
            if token is not None:
                detach(token)  # type: ignore[arg-type]
            self.span.end()

    def _apply_finish(self) -> None:
        raise NotImplementedError


class DirectInference(_DirectInvocation):
    """One root inference invocation: the subset of ``InferenceInvocation`` the decorator uses."""

    __slots__ = (
        "_request_stream",
        "_start_attributes",
        "_stream_last_chunk_at",
        "_ttfc_seconds",
        "conversation_id",
        "data",
    )

    def __init__(
        self,
        handler: Any,
        provider: str,
        request_model: str | None,
        operation_name: str,
        attach_context: bool,
        conversation_id: str | None,
    ) -> None:
        self._instruments = handler._instruments
        self.data = data = new_inference_data(
            InferenceData,
            provider_name=provider,
            request_model=request_model,
            conversation_id=conversation_id,
            operation_name=operation_name,
            input_messages=[],
            output_messages=[],
            system_instructions=[],
        )
        self.attributes: dict[str, AttributeValue] = data.attributes
        self.metric_attributes: dict[str, AttributeValue] = data.metric_attributes
        context: Context | None = None
        self.conversation_id = (
            conversation_id if conversation_id is not None else get_ambient_conversation_id()
        )
        if self.conversation_id:
            context = with_conversation_id(self.conversation_id)
        start: dict[str, AttributeValue] = {
            GenAI.GEN_AI_OPERATION_NAME: operation_name,
            GenAI.GEN_AI_PROVIDER_NAME: provider,
        }
        if request_model is not None:
            start[GenAI.GEN_AI_REQUEST_MODEL] = request_model
        self._start_attributes = start
        self.span: Any = handler._tracer.start_span(
            name=f"{operation_name} {request_model}" if request_model else operation_name,
            kind=SpanKind.CLIENT,
            attributes=start,
            context=context,
        )
        ctx = set_span_in_context(self.span, context)
        ctx = set_value(CLIENT_INFERENCE_CONTEXT_KEY, new_inference_data(DecoratorSlot), ctx)
        self._span_context: Context = ctx
        self._context_token: object | None = attach(ctx) if attach_context else None
        self._start = default_timer()
        self._request_stream: bool | None = None
        self._ttfc_seconds: float | None = None
        self._stream_last_chunk_at: float | None = None
        self._finished = False

    # -- the InferenceInvocation surface the decorator uses -------------------------------------------

    @property
    def context(self) -> Context:
        return self._span_context

    @property
    def request_model(self) -> str | None:
        return self.data.request_model

    @property
    def response_model_name(self) -> str | None:
        return self.data.response_model

    @response_model_name.setter
    def response_model_name(self, value: str | None) -> None:
        self.data.response_model = value

    @property
    def request_stream(self) -> bool | None:
        return self._request_stream if self._request_stream is not None else self.data.request_stream

    @request_stream.setter
    def request_stream(self, value: bool | None) -> None:
        self._request_stream = value
        self.data.request_stream = value

    def _get_finish_reasons(self) -> list[str] | None:
        reasons: list[str] | None = _get_finish_reasons(self)
        return reasons

    def record_stream_chunk(self) -> None:
        if self._finished:
            return
        self._request_stream = True
        chunk_at = default_timer()
        last = self._stream_last_chunk_at if self._stream_last_chunk_at is not None else self._start
        self._stream_last_chunk_at = chunk_at
        delta = max(chunk_at - last, 0.0)
        first = self._ttfc_seconds is None
        if first:
            self._ttfc_seconds = delta
        attributes = self._metric_attributes()
        instruments = self._instruments
        histogram = instruments.time_to_first_chunk if first else instruments.time_per_output_chunk
        histogram.record(delta, attributes=attributes, context=self._span_context)
        self.data.request_stream = True
        self.data.response_time_to_first_chunk = self._ttfc_seconds

    # -- ending -----------------------------------------------------------------------------------------

    def _apply_finish(self) -> None:
        try:
            published = get_value(CLIENT_INFERENCE_CONTEXT_KEY, context=self._span_context)
            if isinstance(published, InferenceData) and vars(published) != _UNTOUCHED:
                self._enrich(published)
            if self._request_stream is not None:
                self.data.request_stream = self._request_stream
            attributes: dict[str, AttributeValue] = _get_attributes(self)
            attributes.update(self.attributes)
            start = self._start_attributes
            self.span.set_attributes({k: v for k, v in attributes.items() if k not in start})
            self._record_client_metrics()
        finally:
            # The slot is closed whatever happened: nothing publishes into an ended call.
            self._span_context = set_value(CLIENT_INFERENCE_CONTEXT_KEY, None, context=self._span_context)

    def _enrich(self, published: InferenceData) -> None:
        """util-genai's ``enrich_from_context``: the inner call fills what ours left empty.

        ``merge(overwrite=False)``, then the content fields restored, as one pass over the fields the
        inner call actually set (``merge`` walks ``dataclasses.fields()``: 48 of them, every call).
        """
        data = self.data
        mine = vars(data)
        for name, value in vars(published).items():
            if value is not None and name not in _NOT_MERGED and mine[name] is None:
                setattr(data, name, value)
        for key, value in published.attributes.items():
            data.attributes.setdefault(key, value)
        for key, value in published.metric_attributes.items():
            data.metric_attributes.setdefault(key, value)
        if published.capture_content:
            for name in _CONTENT_FIELDS:
                if not mine[name]:
                    setattr(data, name, getattr(published, name))

    def _metric_attributes(self) -> dict[str, AttributeValue]:
        data = self.data
        attributes = dict(self._start_attributes)
        if data.provider_name is not None:
            attributes[GenAI.GEN_AI_PROVIDER_NAME] = data.provider_name
        if data.request_model is not None:
            attributes[GenAI.GEN_AI_REQUEST_MODEL] = data.request_model
        if data.response_model is not None:
            attributes[GenAI.GEN_AI_RESPONSE_MODEL] = data.response_model
        if data.server_address is not None:
            attributes[server_attributes.SERVER_ADDRESS] = data.server_address
        if data.server_port is not None:
            attributes[server_attributes.SERVER_PORT] = data.server_port
        if self.metric_attributes:
            attributes.update(self.metric_attributes)
        return attributes

    def _record_client_metrics(self) -> None:
        instruments, context, data = self._instruments, self._span_context, self.data
        key = None
        extra = self.metric_attributes
        # The usual case: the three attribute sets are reused per model (and per service tier and
        # fingerprint, which OpenAI's answers carry and genai-openai puts on the points).
        if len(extra) <= _MAX_KEYED_EXTRAS:
            start = self._start_attributes
            key = (
                start.get(GenAI.GEN_AI_OPERATION_NAME),
                start.get(GenAI.GEN_AI_REQUEST_MODEL),
                data.provider_name,
                data.request_model,
                data.response_model,
                data.server_address,
                data.server_port,
                tuple(extra.items()) if extra else None,
            )
        try:
            sets = _METRIC_SETS.get(key) if key is not None else None
        except TypeError:  # an unhashable extra value (a list): built for this call only
            key = sets = None
        if sets is None:
            attributes = self._metric_attributes()
            sets = (
                attributes,
                {**attributes, GenAI.GEN_AI_TOKEN_TYPE: _INPUT},
                {**attributes, GenAI.GEN_AI_TOKEN_TYPE: _OUTPUT},
            )
            if key is not None and len(_METRIC_SETS) < _MAX_METRIC_SETS:
                _METRIC_SETS[key] = sets
        instruments.operation_duration.record(
            max(default_timer() - self._start, 0.0), attributes=sets[0], context=context
        )
        if data.usage_input_tokens is not None:
            instruments.token_usage.record(data.usage_input_tokens, attributes=sets[1], context=context)
        if data.usage_output_tokens is not None:
            instruments.token_usage.record(data.usage_output_tokens, attributes=sets[2], context=context)


_EXECUTE_TOOL: Final = GenAI.GenAiOperationNameValues.EXECUTE_TOOL.value


def direct_tool_possible(handler: Any) -> bool:
    """Whether :class:`DirectTool` can stand in for ``handler.tool()``: it needs the handler's instruments."""
    return hasattr(handler, "_tracer") and hasattr(handler, "_instruments")


class DirectTool(_DirectInvocation):
    """One ``execute_tool`` invocation: what util-genai's ``ToolInvocation`` emits, for ``@traced_tool``.

    Arguments and results are never set on the invocation by us (we write them, masked, into
    ``attributes``), so util-genai's content branch never applies; everything else is its output.
    """

    __slots__ = ("_metric_attributes", "_tail")

    def __init__(
        self,
        handler: Any,
        name: str,
        tool_type: str | None,
        agent_name: str | None,
        tool_call_id: str | None,
        description: str | None,
    ) -> None:
        self._instruments = handler._instruments
        conversation_id = get_ambient_conversation_id()
        context = with_conversation_id(conversation_id) if conversation_id else None
        start: dict[str, AttributeValue] = {
            GenAI.GEN_AI_OPERATION_NAME: _EXECUTE_TOOL,
            GenAI.GEN_AI_TOOL_NAME: name,
        }
        metric: dict[str, AttributeValue] = {GenAI.GEN_AI_TOOL_NAME: name}
        # Set at the end, in util-genai's order: type, call id, description, agent.
        tail: dict[str, AttributeValue] = {}
        if tool_type is not None:
            start[GenAI.GEN_AI_TOOL_TYPE] = metric[GenAI.GEN_AI_TOOL_TYPE] = tail[GenAI.GEN_AI_TOOL_TYPE] = (
                tool_type
            )
        if tool_call_id is not None:
            tail[GenAI.GEN_AI_TOOL_CALL_ID] = tool_call_id
        if description is not None:
            tail[GenAI.GEN_AI_TOOL_DESCRIPTION] = description
        if agent_name is not None:
            metric[GenAI.GEN_AI_AGENT_NAME] = tail[GenAI.GEN_AI_AGENT_NAME] = agent_name
        self._metric_attributes = metric
        self._tail = tail
        self.attributes: dict[str, AttributeValue] = {}
        self.metric_attributes: dict[str, AttributeValue] = {}
        self.span: Any = handler._tracer.start_span(
            name=f"{_EXECUTE_TOOL} {name}" if name else _EXECUTE_TOOL,
            kind=SpanKind.INTERNAL,
            attributes=start,
            context=context,
        )
        self._span_context: Context = set_span_in_context(self.span, context)
        self._context_token: object | None = attach(self._span_context)
        self._start = default_timer()
        self._finished = False

    def _apply_finish(self) -> None:
        attributes = dict(self._tail)
        attributes.update(self.attributes)
        self.span.set_attributes(attributes)
        metric = self._metric_attributes
        if self.metric_attributes:
            metric = {**metric, **self.metric_attributes}
        self._instruments.execute_tool_duration.record(
            max(default_timer() - self._start, 0.0), attributes=metric, context=self._span_context
        )
