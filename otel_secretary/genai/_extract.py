"""Read GenAI facts (model, id, finish reasons, token usage, text) from whatever a call returned.

A decorated function may return an OpenAI SDK object, a plain dict of the same shape (an HTTP JSON
body, a cached answer), or stream chunks of either. This module only reads: it never mutates the
value and never raises on unexpected shapes, because it runs on the host app's return path.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

# Request keyword arguments we turn into gen_ai.request.* attributes (OpenAI parameter names).
_FLOAT_PARAMS: Final = {
    "temperature": "temperature",
    "top_p": "top_p",
    "frequency_penalty": "frequency_penalty",
    "presence_penalty": "presence_penalty",
}
# A bounded buffer: content capture must not turn a long stream into unbounded memory.
MAX_CAPTURED_CHARS: Final = 16_384


# How to read each type, decided once per type: an ABC isinstance check costs more than the lookup
# itself on this hot path (a response object is read a dozen times per call). Bounded by types seen.
_MAPPING: Final = 0
_PYDANTIC: Final = 1
_OTHER: Final = 2
_KIND: dict[type, int] = {dict: _MAPPING}
# (pydantic type, name) -> whether the class itself has that attribute (a property, a method).
_CLASS_HAS: dict[tuple[type, str], bool] = {}
_ABSENT: Final = object()


def _kind_of(cls: type, obj: Any) -> int:
    if isinstance(obj, Mapping):
        kind = _MAPPING
    elif hasattr(cls, "__pydantic_fields__") and isinstance(getattr(obj, "__dict__", None), dict):
        kind = _PYDANTIC
    else:
        kind = _OTHER
    if len(_KIND) < 1024:
        _KIND[cls] = kind
    return kind


def get(obj: Any, name: str) -> Any:
    """Attribute or key access, whichever the object supports; None when absent.

    A name a pydantic model (every OpenAI and Anthropic SDK object) lacks is answered from its
    fields and extras: ``getattr`` on a missing name goes through pydantic's ``__getattr__`` and an
    AttributeError, ~4 µs each, and reading one response probes a dozen names it may not have
    (Responses-API names on a chat completion, ``delta`` on a message).
    """
    if obj is None:
        return None
    cls = type(obj)
    kind = _KIND.get(cls)
    if kind is None:
        kind = _kind_of(cls, obj)
    if kind == _MAPPING:
        return obj.get(name)
    if kind == _PYDANTIC:
        value = obj.__dict__.get(name, _ABSENT)
        if value is not _ABSENT:
            return value
        extra = getattr(obj, "__pydantic_extra__", None)
        if extra and name in extra:
            return extra[name]
        has = _CLASS_HAS.get((cls, name))
        if has is None:
            has = hasattr(cls, name)
            if len(_CLASS_HAS) < 4096:
                _CLASS_HAS[(cls, name)] = has
        if not has:
            return None
    return getattr(obj, name, None)


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


@dataclass
class Usage:
    """Token counts as the conventions define them: input includes cached, output includes reasoning."""

    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_read_tokens: int | None = None
    cache_write_tokens: int | None = None
    reasoning_tokens: int | None = None

    @property
    def known(self) -> bool:
        return self.input_tokens is not None or self.output_tokens is not None


def read_usage(usage: Any) -> Usage:
    """Chat Completions (``prompt_tokens``), Responses (``input_tokens``) and embeddings usage shapes."""
    if usage is None:
        return Usage()
    input_tokens = _int(get(usage, "input_tokens"))
    if input_tokens is None:
        input_tokens = _int(get(usage, "prompt_tokens"))
    output_tokens = _int(get(usage, "output_tokens"))
    if output_tokens is None:
        output_tokens = _int(get(usage, "completion_tokens"))
    input_details = get(usage, "input_tokens_details") or get(usage, "prompt_tokens_details")
    output_details = get(usage, "output_tokens_details") or get(usage, "completion_tokens_details")
    return Usage(
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        cache_read_tokens=_int(get(input_details, "cached_tokens")),
        cache_write_tokens=_int(get(input_details, "cache_write_tokens")),
        reasoning_tokens=_int(get(output_details, "reasoning_tokens")),
    )


@dataclass
class RequestedToolCall:
    """A tool call the model asked for; stream deltas are appended to ``arguments`` piece by piece."""

    call_id: str | None = None
    name: str | None = None
    arguments: list[str] = field(default_factory=list)
    arguments_chars: int = 0

    def add_arguments(self, value: Any) -> None:
        if isinstance(value, str) and value and self.arguments_chars < MAX_CAPTURED_CHARS:
            piece = value[: MAX_CAPTURED_CHARS - self.arguments_chars]
            self.arguments.append(piece)
            self.arguments_chars += len(piece)

    @property
    def argument_text(self) -> str:
        return "".join(self.arguments)


@dataclass
class ResponseFacts:
    """What one response (or the chunks of one stream, folded together) says about the call."""

    response_model: str | None = None
    response_id: str | None = None
    finish_reasons: list[str] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    service_tier: str | None = None
    system_fingerprint: str | None = None
    embedding_dimensions: int | None = None
    text: list[str] = field(default_factory=list)
    text_chars: int = 0
    # Keyed by (choice index, tool call index) for Chat Completions, by output index for Responses,
    # so stream deltas that carry only an index find the call their first delta opened.
    tool_calls: dict[tuple[int, int], RequestedToolCall] = field(default_factory=dict)
    conversation_id: str | None = None

    def tool_call(self, key: tuple[int, int]) -> RequestedToolCall:
        call = self.tool_calls.get(key)
        if call is None:
            call = self.tool_calls[key] = RequestedToolCall()
        return call

    def add_text(self, value: Any) -> None:
        if isinstance(value, str) and value and self.text_chars < MAX_CAPTURED_CHARS:
            piece = value[: MAX_CAPTURED_CHARS - self.text_chars]
            self.text.append(piece)
            self.text_chars += len(piece)

    def fill_from(self, other: ResponseFacts) -> None:
        """Take what ``other`` says and this does not (an inner call's answer under the outer one)."""
        self.response_model = self.response_model or other.response_model
        self.response_id = self.response_id or other.response_id
        self.service_tier = self.service_tier or other.service_tier
        self.system_fingerprint = self.system_fingerprint or other.system_fingerprint
        self.conversation_id = self.conversation_id or other.conversation_id
        if self.embedding_dimensions is None:
            self.embedding_dimensions = other.embedding_dimensions
        if not self.finish_reasons:
            self.finish_reasons = list(other.finish_reasons)
        if not self.tool_calls:
            self.tool_calls = dict(other.tool_calls)
        if not self.usage.known:
            self.usage = other.usage
        if not self.text:
            self.text, self.text_chars = list(other.text), other.text_chars

    def merge_usage(self, usage: Usage) -> None:
        if usage.known:
            self.usage = usage


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def read_response(obj: Any, facts: ResponseFacts | None = None) -> ResponseFacts:
    """Fold one complete response object or dict into ``facts``."""
    facts = facts if facts is not None else ResponseFacts()
    if obj is None or isinstance(obj, (str, bytes, int, float, bool)):
        return facts
    facts.response_model = _str(get(obj, "model")) or facts.response_model
    facts.response_id = _str(get(obj, "id")) or facts.response_id
    facts.service_tier = _str(get(obj, "service_tier")) or facts.service_tier
    facts.system_fingerprint = _str(get(obj, "system_fingerprint")) or facts.system_fingerprint
    facts.merge_usage(read_usage(get(obj, "usage")))
    choices = get(obj, "choices")
    if isinstance(choices, (list, tuple)):
        for position, choice in enumerate(choices):
            reason = _str(get(choice, "finish_reason"))
            if reason:
                facts.finish_reasons.append(reason)
            message = get(choice, "message")
            delta = get(choice, "delta")
            facts.add_text(get(message, "content"))
            facts.add_text(get(delta, "content"))
            tool_calls = get(message, "tool_calls") or get(delta, "tool_calls")
            if tool_calls:
                index = _int(get(choice, "index"))
                _read_chat_tool_calls(tool_calls, position if index is None else index, facts)
    data = get(obj, "data")
    if isinstance(data, (list, tuple)) and data:
        vector = get(data[0], "embedding")
        if isinstance(vector, (list, tuple)):
            facts.embedding_dimensions = len(vector)
    if get(obj, "object") == "response" or isinstance(get(obj, "output"), (list, tuple)):
        _read_responses_api(obj, facts)
    return facts


def _read_responses_api(obj: Any, facts: ResponseFacts) -> None:
    status = get(obj, "status")
    if status == "completed":
        facts.finish_reasons.append("stop")
    elif status == "incomplete":
        reason = get(get(obj, "incomplete_details"), "reason")
        facts.finish_reasons.append(
            "length" if reason == "max_output_tokens" else str(reason or "incomplete")
        )
    conversation = get(obj, "conversation")
    facts.conversation_id = conversation_id_of(conversation) or facts.conversation_id
    for index, item in enumerate(get(obj, "output") or ()):
        if get(item, "type") == "function_call":
            _read_function_call_item(item, index, facts, replace_arguments=True)
            continue
        for part in get(item, "content") or ():
            if get(part, "type") == "output_text":
                facts.add_text(get(part, "text"))


def conversation_id_of(conversation: Any) -> str | None:
    """The id a Responses ``conversation`` names: a bare id string or an object with ``id``."""
    if isinstance(conversation, str):
        return conversation or None
    return _str(get(conversation, "id"))


def _read_chat_tool_calls(tool_calls: Any, choice_index: int, facts: ResponseFacts) -> None:
    """Complete tool calls (a message) or deltas (a chunk: id and name on the first, then arguments)."""
    if not isinstance(tool_calls, (list, tuple)):
        return
    for position, tool_call in enumerate(tool_calls):
        index = _int(get(tool_call, "index"))
        call = facts.tool_call((choice_index, position if index is None else index))
        call.call_id = _str(get(tool_call, "id")) or call.call_id
        function = get(tool_call, "function")
        call.name = _str(get(function, "name")) or call.name
        call.add_arguments(get(function, "arguments"))


def _read_function_call_item(item: Any, index: int, facts: ResponseFacts, replace_arguments: bool) -> None:
    call = facts.tool_call((0, index))
    call.call_id = _str(get(item, "call_id")) or call.call_id
    call.name = _str(get(item, "name")) or call.name
    arguments = get(item, "arguments")
    if replace_arguments and isinstance(arguments, str) and arguments:
        call.arguments.clear()
        call.arguments_chars = 0
        call.add_arguments(arguments)


def read_chunk(chunk: Any, facts: ResponseFacts) -> None:
    """Fold one stream chunk: Chat Completions chunks, Responses stream events, or plain text deltas."""
    if isinstance(chunk, str):
        facts.add_text(chunk)
        return
    event_type = get(chunk, "type")
    if isinstance(event_type, str) and event_type.startswith("response."):
        if event_type == "response.output_text.delta":
            facts.add_text(get(chunk, "delta"))
        elif event_type in ("response.output_item.added", "response.output_item.done"):
            item = get(chunk, "item")
            if get(item, "type") == "function_call":
                index = _int(get(chunk, "output_index")) or 0
                _read_function_call_item(item, index, facts, event_type.endswith("done"))
        elif event_type == "response.function_call_arguments.delta":
            index = _int(get(chunk, "output_index")) or 0
            facts.tool_call((0, index)).add_arguments(get(chunk, "delta"))
        elif event_type in ("response.completed", "response.incomplete"):
            text = facts.text
            read_response(get(chunk, "response"), facts)
            facts.text = text  # the deltas already carried the text
        return
    read_response(chunk, facts)


@dataclass
class RequestFacts:
    """What the call's own keyword arguments say about the request (OpenAI parameter names)."""

    model: str | None = None
    stream: bool = False
    floats: dict[str, float] = field(default_factory=dict)
    max_tokens: int | None = None
    stop_sequences: list[str] | None = None
    seed: int | None = None
    choice_count: int | None = None
    messages: Any = None
    service_tier: str | None = None
    conversation_id: str | None = None


def read_request(kwargs: Mapping[str, Any]) -> RequestFacts:
    facts = RequestFacts(model=_str(kwargs.get("model")), stream=kwargs.get("stream") is True)
    if len(kwargs) <= 1 and (not kwargs or "model" in kwargs):
        return facts  # the common `summarize(text, model=...)` call: nothing else to read
    conversation = kwargs.get("conversation")
    if conversation is not None:
        facts.conversation_id = conversation_id_of(conversation)
    for key, name in _FLOAT_PARAMS.items():
        value = kwargs.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            facts.floats[name] = float(value)
    for key in ("max_tokens", "max_completion_tokens", "max_output_tokens"):
        if _int(kwargs.get(key)) is not None:
            facts.max_tokens = kwargs[key]
            break
    stop = kwargs.get("stop")
    if isinstance(stop, str):
        facts.stop_sequences = [stop]
    elif isinstance(stop, (list, tuple)) and all(isinstance(s, str) for s in stop):
        facts.stop_sequences = list(stop)
    facts.seed = _int(kwargs.get("seed"))
    count = _int(kwargs.get("n"))
    facts.choice_count = count if count is not None and count != 1 else None
    facts.service_tier = _str(kwargs.get("service_tier"))
    return facts
