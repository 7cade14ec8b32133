"""Message content in the conventions' shape (role + parts), always masked, and requested tool calls.

Content is opt-in (``OTEL_SECRETARY_CAPTURE_CONTENT``); when it is captured every string in it goes
through the PII masker first, and when no masker is available nothing is captured at all. The
*names and ids* of the tool calls a model requested are not content (they are our own function names
and opaque provider ids), so they are recorded on the chat span whatever the switch says; the
arguments are content.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, is_dataclass
from typing import Any, Final

from opentelemetry.util.types import AttributeValue

from ._extract import ResponseFacts, get

# Ours, not a convention: the conventions record requested tool calls only inside the opt-in
# gen_ai.output.messages. Names and ids are safe to keep on by default (no user data).
TOOL_CALL_NAMES: Final = "app.genai.tool_call.names"
TOOL_CALL_IDS: Final = "app.genai.tool_call.ids"

Mask = Callable[[str], "str | None"]


def mask_value(value: Any, mask: Mask) -> Any:
    """``value`` with every string inside masked; raises LookupError when a string cannot be masked."""
    if isinstance(value, str):
        masked = mask(value)
        if masked is None:
            raise LookupError("no masker")
        return masked
    if isinstance(value, Mapping):
        return {str(k): mask_value(v, mask) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [mask_value(v, mask) for v in value]
    if is_dataclass(value) and not isinstance(value, type):
        return mask_value(asdict(value), mask)
    if value is None or isinstance(value, (int, float, bool)):
        return value
    return mask_value(str(value), mask)


def masked_json(value: Any, mask: Mask) -> str | None:
    """Masked JSON text of ``value``; None when there is nothing or no masker (never raw text)."""
    if value is None or value == [] or value == {}:
        return None
    try:
        return json.dumps(mask_value(value, mask), ensure_ascii=False, default=str)
    except (LookupError, TypeError, ValueError, RecursionError):
        return None


def _text_of(content: Any) -> str | None:
    if isinstance(content, str):
        return content
    if isinstance(content, (list, tuple)):
        texts = [str(get(p, "text") or "") for p in content if get(p, "text")]
        return " ".join(texts) if texts else None
    return None


def _parse_arguments(arguments: Any) -> Any:
    if isinstance(arguments, str):
        try:
            return json.loads(arguments)
        except ValueError:
            return arguments
    return arguments


def input_messages(messages: Any) -> list[dict[str, Any]]:
    """OpenAI request messages (Chat Completions ``messages`` or Responses ``input``) in convention shape.

    Assistant messages keep their ``tool_call`` parts, ``tool`` messages become ``tool_call_response``
    parts, so a captured conversation shows which result answered which call.
    """
    if isinstance(messages, str):
        messages = [{"role": "user", "content": messages}]
    if not isinstance(messages, (list, tuple)):
        return []
    result: list[dict[str, Any]] = []
    for message in messages:
        item_type = get(message, "type")
        if item_type == "function_call_output":  # Responses API tool result
            part = {
                "type": "tool_call_response",
                "id": get(message, "call_id"),
                "response": get(message, "output"),
            }
            result.append({"role": "tool", "parts": [part]})
            continue
        if item_type == "function_call":
            part = {
                "type": "tool_call",
                "id": get(message, "call_id"),
                "name": get(message, "name"),
                "arguments": _parse_arguments(get(message, "arguments")),
            }
            result.append({"role": "assistant", "parts": [part]})
            continue
        role = str(get(message, "role") or "user")
        parts: list[dict[str, Any]] = []
        text = _text_of(get(message, "content"))
        if role == "tool":
            parts.append({"type": "tool_call_response", "id": get(message, "tool_call_id"), "response": text})
        elif text:
            parts.append({"type": "text", "content": text})
        for call in get(message, "tool_calls") or ():
            function = get(call, "function")
            parts.append(
                {
                    "type": "tool_call",
                    "id": get(call, "id"),
                    "name": get(function, "name"),
                    "arguments": _parse_arguments(get(function, "arguments")),
                }
            )
        if parts:
            result.append({"role": role, "parts": parts})
    return result


def output_messages(facts: ResponseFacts) -> list[dict[str, Any]]:
    """The assistant's answer: its text and the tool calls it requested (arguments parsed)."""
    parts: list[dict[str, Any]] = []
    if facts.text:
        parts.append({"type": "text", "content": "".join(facts.text)})
    for call in facts.tool_calls.values():
        parts.append(
            {
                "type": "tool_call",
                "id": call.call_id,
                "name": call.name,
                "arguments": _parse_arguments(call.argument_text),
            }
        )
    if not parts:
        return []
    message: dict[str, Any] = {"role": "assistant", "parts": parts}
    if facts.finish_reasons:
        message["finish_reason"] = facts.finish_reasons[0]
    return [message]


def tool_call_attributes(calls: Iterable[tuple[str | None, str | None]]) -> dict[str, AttributeValue]:
    """``app.genai.tool_call.names``/``ids`` (parallel string arrays) for the calls a model requested."""
    names: list[str] = []
    ids: list[str] = []
    for call_id, name in calls:
        names.append(name or "")
        ids.append(call_id or "")
    if not names:
        return {}
    return {TOOL_CALL_NAMES: names, TOOL_CALL_IDS: ids}


def requested_tool_calls(output: Iterable[Any]) -> list[tuple[str | None, str | None]]:
    """(id, name) of every ``tool_call`` part in util-genai output messages (the auto-instrumented path)."""
    calls: list[tuple[str | None, str | None]] = []
    for message in output:
        for part in get(message, "parts") or ():
            if get(part, "type") == "tool_call":
                calls.append((get(part, "id"), get(part, "name")))
    return calls
