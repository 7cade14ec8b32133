"""What the secretary does with a model: summarise e-mails. Used by the API and the Celery worker."""

from __future__ import annotations

from collections.abc import Iterator

from examples.ai_secretary.clients import openai_client
from examples.ai_secretary.config import AppConfig
from otel_secretary import traced_ai_call

MODEL = "gpt-4o-mini"
_SYSTEM = "You are an executive assistant. Summarise the e-mail in two sentences."


def _messages(subject: str, body: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": _SYSTEM}, {"role": "user", "content": f"{subject}\n\n{body}"}]


# The decorator makes the call one GenAI span (tokens, cost, errors) whoever calls it; around the
# auto-instrumented OpenAI client it merges with that instrumentation instead of adding a second span.
@traced_ai_call(operation="chat", model=MODEL)
def summarize_email(config: AppConfig, subject: str, body: str, fault: str | None = None) -> str:
    response = openai_client(config).chat.completions.create(
        model=MODEL,
        messages=_messages(subject, body),
        temperature=0.2,
        max_tokens=120,
        extra_headers={"x-fake-fault": fault} if fault else None,
    )
    return response.choices[0].message.content or ""


@traced_ai_call(operation="chat", model=MODEL)
def stream_summary(config: AppConfig, subject: str, body: str) -> Iterator[str]:
    stream = openai_client(config).chat.completions.create(
        model=MODEL,
        messages=_messages(subject, body),
        stream=True,
        stream_options={"include_usage": True},
    )
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            yield chunk.choices[0].delta.content
