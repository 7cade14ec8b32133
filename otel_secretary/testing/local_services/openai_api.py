"""A loopback stand-in for the OpenAI API subset the real ``openai`` client uses in the example app.

Covers POST /v1/chat/completions (JSON and SSE streaming, usage in the last chunk when
``stream_options.include_usage``), /v1/embeddings (float and base64) and /v1/responses (JSON and
named-event SSE streaming, usage in ``response.completed``). Answers are
deterministic (a "summary" built from word counts, no model), every answer carries the ``x-ratelimit-*``
and ``x-request-id`` headers the real API sends, and faults (429 with ``retry-after-ms``, 500, slow
answers, connection resets) are scripted with ``svc.fail("429x2")`` or an ``x-fake-fault`` header.

Function calling: a request that offers ``tools`` and has no tool results after its last user message
is answered with one tool call per offered tool (or only the one ``tool_choice`` names, or the
comma-separated names in ``x-fake-tool-calls``), arguments filled from each tool's JSON schema; once
tool results are in, the answer is a final text. Streams send tool calls as deltas (id and name
first, arguments in pieces), as the real API does. The Responses API does the same with
``function_call`` items and echoes ``conversation``.

Test-only knobs, all request headers: ``x-fake-cached-tokens`` / ``x-fake-reasoning-tokens`` (usage
details), ``x-fake-chunk-delay`` (seconds between stream chunks), ``x-fake-tool-calls``.
"""

from __future__ import annotations

import base64
import json
import re
import struct
import threading
import time
from collections import Counter
from typing import Any

from ._server import Fault, LocalService, Request, Response, run_main

# Dated snapshots the real API answers with, so tests can tell request model from response model.
_SNAPSHOTS = {
    "gpt-4o-mini": "gpt-4o-mini-2024-07-18",
    "gpt-4o": "gpt-4o-2024-08-06",
    "gpt-4.1-mini": "gpt-4.1-mini-2025-04-14",
    "text-embedding-3-small": "text-embedding-3-small",
}
_WORD = re.compile(r"[A-Za-z0-9']+")
_STOP_WORDS = frozenset(
    "a an and are as at be for from in is it of on or the to with you your i we".split()  # noqa: SIM905
)


class FakeOpenAI(LocalService):
    """The running stand-in; ``limit_requests``/``limit_tokens`` and the used counters drive the headers,
    ``system_fingerprint`` is what chat answers carry (OpenAI changes it with its backend's configuration)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.system_fingerprint = "fp_fake0001"
        self.limit_requests = 10_000
        self.limit_tokens = 2_000_000
        self.used_requests = 0
        self.used_tokens = 0
        self._ids = 0
        self._id_lock = threading.Lock()
        routes = [
            ("POST", r"(?:/v1)?/chat/completions", self._chat),
            ("POST", r"(?:/v1)?/embeddings", self._embeddings),
            ("POST", r"(?:/v1)?/responses", self._responses),
            ("GET", r"(?:/v1)?/models", self._models),
        ]
        super().__init__("openai", routes, self._error, host, port, self._headers)

    def _next_id(self, prefix: str) -> str:
        with self._id_lock:
            self._ids += 1
            return f"{prefix}-fake{self._ids:06d}"

    def _headers(self, request: Request) -> dict[str, str]:
        with self._id_lock:
            self.used_requests += 1
            remaining_requests = max(0, self.limit_requests - self.used_requests)
            remaining_tokens = max(0, self.limit_tokens - self.used_tokens)
            self._ids += 1
            request_id = f"req_fake{self._ids:010d}"
        return {
            "x-request-id": request_id,
            "openai-processing-ms": "3",
            "x-ratelimit-limit-requests": str(self.limit_requests),
            "x-ratelimit-limit-tokens": str(self.limit_tokens),
            "x-ratelimit-remaining-requests": str(remaining_requests),
            "x-ratelimit-remaining-tokens": str(remaining_tokens),
            "x-ratelimit-reset-requests": "6ms",
            "x-ratelimit-reset-tokens": "0s",
        }

    def _error(self, fault: Fault) -> tuple[dict[str, Any], dict[str, str]]:
        status = fault.status or 500
        if status == 429:
            body = _error_body(
                "Rate limit reached for requests (synthetic).", "requests", "rate_limit_exceeded"
            )
            # retry-after-ms keeps the client's backoff at 1 ms so retry tests stay fast.
            return body, {"retry-after-ms": "1", "x-ratelimit-remaining-requests": "0"}
        if status == 401:
            return _error_body(
                "Incorrect API key provided: sk-fake.", "invalid_request_error", "invalid_api_key"
            ), {}
        if status == 400:
            return _error_body(
                "Invalid request (synthetic).", "invalid_request_error", fault.reason or None
            ), {}
        if status == 404:
            return _error_body("Unknown path.", "invalid_request_error", "unknown_url"), {}
        return _error_body("The server had an error while processing your request.", "server_error", None), {}

    def _charge(self, tokens: int) -> None:
        with self._id_lock:
            self.used_tokens += tokens

    def _chat(self, request: Request, _match: re.Match[str]) -> Response:
        body = request.json or {}
        model = str(body.get("model", "gpt-4o-mini"))
        messages = [m for m in body.get("messages", []) if isinstance(m, dict)]
        texts = [_content_text(m.get("content")) for m in messages]
        prompt_tokens = sum(_count_words(t) + 3 for t in texts) + 3
        calls = self._tool_calls(body.get("tools"), body.get("tool_choice"), messages, "tool", request)
        if calls:
            return self._chat_tool_calls(body, model, calls, prompt_tokens, request)
        answer = summarize(" ".join(texts))
        if any(m.get("role") == "tool" for m in messages):
            answer = "Done: " + answer
        completion_tokens = _count_words(answer)
        self._charge(prompt_tokens + completion_tokens)
        usage = _chat_usage(prompt_tokens, completion_tokens, request.headers)
        response_id = self._next_id("chatcmpl")
        created = int(time.time())
        response_model = _SNAPSHOTS.get(model, model)
        finish = "length" if body.get("max_tokens") == 1 or body.get("max_completion_tokens") == 1 else "stop"
        if not body.get("stream"):
            choices: list[dict[str, Any]] = [
                {
                    "index": i,
                    "message": {"role": "assistant", "content": answer, "refusal": None, "annotations": []},
                    "finish_reason": finish,
                    "logprobs": None,
                }
                for i in range(int(body.get("n") or 1))
            ]
            return Response(
                body={
                    "id": response_id,
                    "object": "chat.completion",
                    "created": created,
                    "model": response_model,
                    "choices": choices,
                    "usage": usage,
                    "service_tier": "default",
                    "system_fingerprint": self.system_fingerprint,
                }
            )
        base = {
            "id": response_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": response_model,
            "service_tier": "default",
            "system_fingerprint": self.system_fingerprint,
        }
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        events: list[dict[str, Any]] = [
            {
                **base,
                "choices": [
                    {"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}
                ],
            }
        ]
        for word in re.findall(r"\S+\s*", answer):
            events.append(
                {**base, "choices": [{"index": 0, "delta": {"content": word}, "finish_reason": None}]}
            )
        events.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]})
        if include_usage:
            events.append({**base, "choices": [], "usage": usage})
        return _sse(events, request)

    def _tool_calls(
        self,
        tools: Any,
        tool_choice: Any,
        messages: list[dict[str, Any]],
        result_role: str,
        request: Request,
    ) -> list[dict[str, Any]]:
        """The calls to request: none once a tool result follows the last user message."""
        if not isinstance(tools, list) or not tools or tool_choice == "none":
            return []
        for message in reversed(messages):
            if message.get("role") == result_role or message.get("type") == "function_call_output":
                return []
            if message.get("role") == "user":
                break
        specs = [t.get("function", t) for t in tools if isinstance(t, dict)]
        wanted = request.headers.get("x-fake-tool-calls")
        if isinstance(tool_choice, dict):
            chosen = (tool_choice.get("function") or tool_choice).get("name")
            specs = [f for f in specs if f.get("name") == chosen]
        elif wanted:
            names = [n.strip() for n in wanted.split(",")]
            specs = [f for f in specs if f.get("name") in names]
        text = " ".join(_content_text(m.get("content")) for m in messages)
        return [
            {
                "id": self._next_id("call").replace("-", "_"),
                "name": str(f.get("name")),
                "arguments": json.dumps(_arguments_for(f.get("parameters") or {}, text)),
            }
            for f in specs
        ]

    def _chat_tool_calls(
        self,
        body: dict[str, Any],
        model: str,
        calls: list[dict[str, Any]],
        prompt_tokens: int,
        request: Request,
    ) -> Response:
        completion_tokens = sum(_count_words(c["arguments"]) + 3 for c in calls)
        self._charge(prompt_tokens + completion_tokens)
        usage = _chat_usage(prompt_tokens, completion_tokens, request.headers)
        base = {
            "id": self._next_id("chatcmpl"),
            "created": int(time.time()),
            "model": _SNAPSHOTS.get(model, model),
            "service_tier": "default",
            "system_fingerprint": self.system_fingerprint,
        }
        tool_calls = [
            {"id": c["id"], "type": "function", "function": {"name": c["name"], "arguments": c["arguments"]}}
            for c in calls
        ]
        if not body.get("stream"):
            message = {"role": "assistant", "content": None, "refusal": None, "tool_calls": tool_calls}
            choice = {"index": 0, "message": message, "finish_reason": "tool_calls", "logprobs": None}
            return Response(body={**base, "object": "chat.completion", "choices": [choice], "usage": usage})
        base["object"] = "chat.completion.chunk"

        def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
            return {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

        events = [chunk({"role": "assistant", "content": None})]
        for index, call in enumerate(tool_calls):
            opening = {"index": index, "id": call["id"], "type": "function"}
            opening["function"] = {"name": call["function"]["name"], "arguments": ""}
            events.append(chunk({"tool_calls": [opening]}))
            arguments = call["function"]["arguments"]
            half = len(arguments) // 2
            for piece in (arguments[:half], arguments[half:]):
                events.append(chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]}))
        events.append(chunk({}, "tool_calls"))
        if (body.get("stream_options") or {}).get("include_usage"):
            events.append({**base, "choices": [], "usage": usage})
        return _sse(events, request)

    def _embeddings(self, request: Request, _match: re.Match[str]) -> Response:
        body = request.json or {}
        model = str(body.get("model", "text-embedding-3-small"))
        inputs = body.get("input", "")
        items = inputs if isinstance(inputs, list) else [inputs]
        dimensions = int(body.get("dimensions") or 8)
        data = []
        tokens = 0
        for index, item in enumerate(items):
            text = item if isinstance(item, str) else " ".join(map(str, item))
            tokens += _count_words(text)
            vector = _embed(text, dimensions)
            encoded: Any = vector
            if body.get("encoding_format") == "base64":
                encoded = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
            data.append({"object": "embedding", "index": index, "embedding": encoded})
        self._charge(tokens)
        return Response(
            body={
                "object": "list",
                "data": data,
                "model": _SNAPSHOTS.get(model, model),
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            }
        )

    def _responses(self, request: Request, _match: re.Match[str]) -> Response:
        body = request.json or {}
        model = str(body.get("model", "gpt-4o-mini"))
        raw_input = body.get("input", "")
        if isinstance(raw_input, list):
            texts = [_content_text(m.get("content")) if isinstance(m, dict) else str(m) for m in raw_input]
        else:
            texts = [str(raw_input)]
        if body.get("instructions"):
            texts.insert(0, str(body["instructions"]))
        input_tokens = sum(_count_words(t) for t in texts) + 3
        items = raw_input if isinstance(raw_input, list) else [{"role": "user", "content": raw_input}]
        calls = self._tool_calls(body.get("tools"), body.get("tool_choice"), items, "tool", request)
        answer = summarize(" ".join(texts))
        output_tokens = _count_words(answer)
        if calls:
            output_tokens = sum(_count_words(c["arguments"]) + 3 for c in calls)
        self._charge(input_tokens + output_tokens)
        cached = int(request.headers.get("x-fake-cached-tokens", "0") or 0)
        reasoning = int(request.headers.get("x-fake-reasoning-tokens", "0") or 0)
        full: dict[str, Any] = {
            "id": self._next_id("resp"),
            "object": "response",
            "created_at": int(time.time()),
            "status": "completed",
            "error": None,
            "incomplete_details": None,
            "instructions": body.get("instructions"),
            "max_output_tokens": body.get("max_output_tokens"),
            "model": _SNAPSHOTS.get(model, model),
            "output": [
                {
                    "type": "function_call",
                    "id": self._next_id("fc"),
                    "call_id": c["id"],
                    "name": c["name"],
                    "arguments": c["arguments"],
                    "status": "completed",
                }
                for c in calls
            ]
            or [
                {
                    "type": "message",
                    "id": self._next_id("msg"),
                    "status": "completed",
                    "role": "assistant",
                    "content": [{"type": "output_text", "text": answer, "annotations": []}],
                }
            ],
            "parallel_tool_calls": True,
            "temperature": body.get("temperature", 1.0),
            "top_p": body.get("top_p", 1.0),
            "tool_choice": "auto",
            "tools": [],
            "text": {"format": {"type": "text"}},
            "metadata": {},
            "service_tier": "default",
            "usage": {
                "input_tokens": input_tokens + cached,
                "input_tokens_details": {"cached_tokens": cached},
                "output_tokens": output_tokens + reasoning,
                "output_tokens_details": {"reasoning_tokens": reasoning},
                "total_tokens": input_tokens + cached + output_tokens + reasoning,
            },
        }
        conversation = body.get("conversation")
        if conversation:
            full["conversation"] = {
                "id": conversation if isinstance(conversation, str) else conversation.get("id")
            }
        if not body.get("stream"):
            return Response(body=full)
        if calls:
            return _sse_named(_function_call_events(full), request)
        return _sse_named(_response_events(full, answer), request)

    def _models(self, _request: Request, _match: re.Match[str]) -> Response:
        data = [{"id": m, "object": "model", "created": 0, "owned_by": "system"} for m in _SNAPSHOTS]
        return Response(body={"object": "list", "data": data})


def summarize(text: str) -> str:
    """The deterministic "completion": word count and the most frequent content words."""
    words = [w.lower() for w in _WORD.findall(text)]
    common = [w for w, _ in Counter(w for w in words if w not in _STOP_WORDS).most_common(3)]
    topics = ", ".join(common) if common else "nothing"
    return f"Summary: {len(words)} words about {topics}."


def _count_words(text: str) -> int:
    return len(_WORD.findall(text))


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


def _chat_usage(prompt: int, completion: int, headers: Any) -> dict[str, Any]:
    cached = int(headers.get("x-fake-cached-tokens", "0") or 0)
    reasoning = int(headers.get("x-fake-reasoning-tokens", "0") or 0)
    return {
        "prompt_tokens": prompt + cached,
        "completion_tokens": completion + reasoning,
        "total_tokens": prompt + cached + completion + reasoning,
        "prompt_tokens_details": {"cached_tokens": cached, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": reasoning, "audio_tokens": 0},
    }


def _embed(text: str, dimensions: int) -> list[float]:
    counts = [0.0] * dimensions
    for word in _WORD.findall(text.lower()):
        counts[sum(map(ord, word)) % dimensions] += 1.0
    norm = sum(c * c for c in counts) ** 0.5 or 1.0
    return [c / norm for c in counts]


def _sse(events: list[dict[str, Any]], request: Request) -> Response:
    chunks = [f"data: {json.dumps(e)}\n\n".encode() for e in events] + [b"data: [DONE]\n\n"]
    delay = float(request.headers.get("x-fake-chunk-delay", "0") or 0)
    return Response(chunks=chunks, chunk_delay=delay)


def _response_events(full: dict[str, Any], answer: str) -> list[dict[str, Any]]:
    """The Responses API event sequence the SDK's stream helper expects; usage arrives in completed."""
    item = full["output"][0]
    position = {"item_id": item["id"], "output_index": 0, "content_index": 0}
    empty_part = {"type": "output_text", "text": "", "annotations": []}
    in_progress = {**full, "status": "in_progress", "output": [], "usage": None}
    events: list[dict[str, Any]] = [
        {"type": "response.created", "response": in_progress},
        {"type": "response.output_item.added", "output_index": 0, "item": {**item, "content": []}},
        {"type": "response.content_part.added", **position, "part": empty_part},
    ]
    for word in re.findall(r"\S+\s*", answer):
        events.append({"type": "response.output_text.delta", **position, "delta": word, "logprobs": []})
    events.append({"type": "response.output_text.done", **position, "text": answer, "logprobs": []})
    events.append({"type": "response.content_part.done", **position, "part": {**empty_part, "text": answer}})
    events.append({"type": "response.output_item.done", "output_index": 0, "item": item})
    events.append({"type": "response.completed", "response": full})
    for number, event in enumerate(events):
        event["sequence_number"] = number
    return events


def _function_call_events(full: dict[str, Any]) -> list[dict[str, Any]]:
    """Responses stream of function_call items: added (no arguments), argument deltas, done, completed."""
    in_progress = {**full, "status": "in_progress", "output": [], "usage": None}
    events: list[dict[str, Any]] = [{"type": "response.created", "response": in_progress}]
    for index, item in enumerate(full["output"]):
        events.append(
            {"type": "response.output_item.added", "output_index": index, "item": {**item, "arguments": ""}}
        )
        arguments = item["arguments"]
        half = len(arguments) // 2
        for piece in (arguments[:half], arguments[half:]):
            events.append(
                {
                    "type": "response.function_call_arguments.delta",
                    "item_id": item["id"],
                    "output_index": index,
                    "delta": piece,
                }
            )
        events.append(
            {
                "type": "response.function_call_arguments.done",
                "item_id": item["id"],
                "output_index": index,
                "arguments": arguments,
            }
        )
        events.append({"type": "response.output_item.done", "output_index": index, "item": item})
    events.append({"type": "response.completed", "response": full})
    for number, event in enumerate(events):
        event["sequence_number"] = number
    return events


def _arguments_for(schema: dict[str, Any], text: str) -> dict[str, Any]:
    """Deterministic arguments for a JSON schema: an e-mail from the text for e-mail-like fields, fixed
    times for date-time fields, the summary topic for other strings."""
    properties = schema.get("properties") if isinstance(schema, dict) else None
    if not isinstance(properties, dict):
        return {}
    emails = re.findall(r"[\w.+-]+@[\w-]+\.[\w.]+", text)
    topic = summarize(text).removeprefix("Summary: ").rstrip(".")
    result: dict[str, Any] = {}
    for name, spec in properties.items():
        kind = spec.get("type") if isinstance(spec, dict) else None
        fmt = spec.get("format") if isinstance(spec, dict) else None
        if kind == "integer":
            result[name] = 1
        elif kind == "number":
            result[name] = 1.0
        elif kind == "boolean":
            result[name] = True
        elif "email" in name:
            result[name] = emails[0] if emails else "customer@example.com"
        elif fmt == "date-time" or name in ("start", "end"):
            result[name] = "2026-12-01T10:30:00Z" if name == "end" else "2026-12-01T10:00:00Z"
        else:
            result[name] = topic
    return result


def _sse_named(events: list[dict[str, Any]], request: Request) -> Response:
    # The Responses API names each event (``event: response.created``) and sends no [DONE].
    chunks = [f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode() for e in events]
    delay = float(request.headers.get("x-fake-chunk-delay", "0") or 0)
    return Response(chunks=chunks, chunk_delay=delay)


def _error_body(message: str, type_: str, code: str | None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": None, "code": code}}


def start(host: str = "127.0.0.1", port: int = 0) -> FakeOpenAI:
    """Start the stand-in in a background thread; point ``OpenAI(base_url=svc.url + "/v1")`` at it."""
    return FakeOpenAI(host, port)


if __name__ == "__main__":
    run_main("Local OpenAI API stand-in (synthetic answers, fault injection).", start)
