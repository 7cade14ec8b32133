from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest

from otel_secretary.genai import GenAITelemetry
from otel_secretary.testing.local_services import openai_api
from tests.support.otel_harness import Harness


@pytest.fixture
def telemetry(otel: Harness) -> GenAITelemetry:
    return GenAITelemetry(otel.tracer_provider, otel.meter_provider)


@pytest.fixture(scope="module")
def fake_openai() -> Iterator[openai_api.FakeOpenAI]:
    with openai_api.start() as service:
        yield service


@pytest.fixture
def client(fake_openai: openai_api.FakeOpenAI) -> openai.OpenAI:
    fake_openai.clear()
    return openai.OpenAI(base_url=fake_openai.url + "/v1", api_key="sk-fake-test", max_retries=2)


@pytest.fixture
def async_client(fake_openai: openai_api.FakeOpenAI) -> openai.AsyncOpenAI:
    fake_openai.clear()
    return openai.AsyncOpenAI(base_url=fake_openai.url + "/v1", api_key="sk-fake-test", max_retries=2)
