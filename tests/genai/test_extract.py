"""Reading facts from SDK objects: pydantic models answer absent names without ``__getattr__``.

The fast path for pydantic models (every OpenAI object) must give exactly what ``getattr`` gives:
declared fields, extras the API added after the SDK was built, class-level properties, and None for
names the model does not have, whether or not pydantic's ``__getattr__`` would have been reached.
"""

from __future__ import annotations

import pydantic
from openai.types.chat import ChatCompletion
from openai.types.completion_usage import CompletionUsage

from otel_secretary.genai._extract import get, read_response, read_usage


class _WithExtras(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="allow")

    model: str | None = None

    @property
    def shouted(self) -> str:
        return (self.model or "").upper()


class _Plain:
    def __init__(self) -> None:
        self.model = "plain-model"


def _completion() -> ChatCompletion:
    return ChatCompletion.model_validate(
        {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 0,
            "model": "gpt-4o-mini-2024-07-18",
            "service_tier": "default",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "ok"},
                    "finish_reason": "stop",
                    "logprobs": None,
                }
            ],
            "usage": {
                "prompt_tokens": 120,
                "completion_tokens": 30,
                "total_tokens": 150,
                "prompt_tokens_details": {"cached_tokens": 64},
                "completion_tokens_details": {"reasoning_tokens": 8},
            },
            "a_field_added_later": "extra-value",
        }
    )


def test_get_matches_getattr_on_pydantic_models() -> None:
    value = _WithExtras.model_validate({"model": "m-1", "vendor_extra": 7})
    for name in ("model", "vendor_extra", "shouted", "model_dump", "absent", "input_tokens"):
        assert get(value, name) == getattr(value, name, None), name
    assert get(value, "vendor_extra") == 7
    assert get(value, "shouted") == "M-1"
    assert get(value, "absent") is None


def test_get_on_mappings_and_plain_objects() -> None:
    assert get({"model": "dict-model"}, "model") == "dict-model"
    assert get({"model": "dict-model"}, "absent") is None
    assert get(_Plain(), "model") == "plain-model"
    assert get(_Plain(), "absent") is None
    assert get(None, "model") is None


def test_openai_objects_read_the_same_as_their_dicts() -> None:
    completion = _completion()
    assert get(completion, "a_field_added_later") == "extra-value"
    from_object = read_response(completion)
    from_dict = read_response(completion.model_dump())
    assert from_object == from_dict
    assert from_object.response_model == "gpt-4o-mini-2024-07-18"
    assert from_object.finish_reasons == ["stop"]
    assert from_object.service_tier == "default"
    usage = read_usage(CompletionUsage(prompt_tokens=5, completion_tokens=2, total_tokens=7))
    assert (usage.input_tokens, usage.output_tokens, usage.cache_read_tokens) == (5, 2, None)
    assert from_object.usage.cache_read_tokens == 64
    assert from_object.usage.reasoning_tokens == 8


def test_model_without_extras_is_read() -> None:
    usage = CompletionUsage(prompt_tokens=1, completion_tokens=1, total_tokens=2)
    object.__setattr__(usage, "__pydantic_extra__", None)  # models with extra="ignore" keep None here
    assert get(usage, "prompt_tokens") == 1
    assert get(usage, "input_tokens") is None
