"""Reading facts from SDK objects: pydantic models answer absent names without ``__getattr__``.

The fast path for pydantic models (every OpenAI object) must give exactly what ``getattr`` gives:
declared fields, extras the API added after the SDK was built, class-level properties, and None for
names the model does not have, whether or not pydantic's ``__getattr__`` would have been reached.
"""

from __future__ import annotations

import openai
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


def _completion(client: openai.OpenAI) -> ChatCompletion:
    """A real answer: the openai client against the local OpenAI service, with cached and reasoning tokens."""
    return client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "Summarise the meeting notes."}],
        extra_headers={"x-fake-cached-tokens": "64", "x-fake-reasoning-tokens": "8"},
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


def test_openai_objects_read_the_same_as_their_dicts(client: openai.OpenAI) -> None:
    completion = _completion(client)
    from_object = read_response(completion)
    from_dict = read_response(completion.model_dump())
    assert from_object == from_dict
    assert from_object.response_model and from_object.response_id
    assert from_object.finish_reasons == ["stop"]
    assert from_object.service_tier == "default"
    assert (from_object.usage.cache_read_tokens, from_object.usage.reasoning_tokens) == (64, 8)
    # A field the API added after this SDK was built lands in the model's extras, and is read.
    later = ChatCompletion.model_validate({**completion.model_dump(), "a_field_added_later": "extra-value"})
    assert get(later, "a_field_added_later") == "extra-value"
    usage = read_usage(CompletionUsage(prompt_tokens=5, completion_tokens=2, total_tokens=7))
    assert (usage.input_tokens, usage.output_tokens, usage.cache_read_tokens) == (5, 2, None)


def test_model_without_extras_is_read() -> None:
    usage = CompletionUsage(prompt_tokens=1, completion_tokens=1, total_tokens=2)
    object.__setattr__(usage, "__pydantic_extra__", None)  # models with extra="ignore" keep None here
    assert get(usage, "prompt_tokens") == 1
    assert get(usage, "input_tokens") is None
