"""Names, units and buckets checked against the installed semantic-conventions constants.

Attribute and metric names come from ``opentelemetry.semconv`` (not from our strings), so a rename
upstream shows up here as a failure. Bucket boundaries are the spec's advice (v1.41 gen-ai-metrics.md).
"""

from __future__ import annotations

import contextlib
from typing import Any

from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as GenAI
from opentelemetry.semconv._incubating.metrics import gen_ai_metrics
from opentelemetry.semconv.attributes import error_attributes
from opentelemetry.trace import SpanKind

from otel_secretary.genai import GenAITelemetry, traced_ai_call
from tests.support.otel_harness import Harness

DURATION_BUCKETS = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92]
TOKEN_BUCKETS = [
    1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864,
]  # fmt: skip

CHUNKS = [
    {
        "id": "c1",
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [{"delta": {"content": "Hi"}, "finish_reason": None}],
    },
    {
        "id": "c1",
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [{"delta": {"content": "!"}, "finish_reason": "stop"}],
    },
    {"id": "c1", "choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 2}},
]


def _run_stream_and_failure(telemetry: GenAITelemetry) -> None:
    @traced_ai_call(model="gpt-4o-mini", telemetry=telemetry)
    def stream() -> Any:
        yield from CHUNKS

    @traced_ai_call(model="gpt-4o-mini", telemetry=telemetry)
    def broken() -> None:
        raise TimeoutError("upstream took too long")

    list(stream())
    with contextlib.suppress(TimeoutError):
        broken()


def test_span_shape(otel: Harness, telemetry: GenAITelemetry) -> None:
    _run_stream_and_failure(telemetry)
    ok, failed = sorted(otel.spans(), key=lambda s: s.start_time)
    for span in (ok, failed):
        assert span.name == f"chat {span.attributes[GenAI.GEN_AI_REQUEST_MODEL]}"  # S1
        assert span.kind is SpanKind.CLIENT  # S2
        assert span.attributes[GenAI.GEN_AI_OPERATION_NAME] == GenAI.GenAiOperationNameValues.CHAT.value  # S3
        assert span.attributes[GenAI.GEN_AI_PROVIDER_NAME] == GenAI.GenAiProviderNameValues.OPENAI.value  # S4
        assert GenAI.GEN_AI_SYSTEM not in span.attributes
    assert error_attributes.ERROR_TYPE not in ok.attributes  # S6
    assert failed.attributes[error_attributes.ERROR_TYPE] == "TimeoutError"
    assert ok.attributes[GenAI.GEN_AI_REQUEST_STREAM] is True  # S7
    assert GenAI.GEN_AI_REQUEST_STREAM not in failed.attributes
    assert ok.attributes[GenAI.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)  # S10: string[]
    assert isinstance(ok.attributes[GenAI.GEN_AI_USAGE_INPUT_TOKENS], int)  # S11
    assert isinstance(ok.attributes[GenAI.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK], float)  # S12


def test_metric_names_units_buckets(otel: Harness, telemetry: GenAITelemetry) -> None:
    _run_stream_and_failure(telemetry)
    metrics = otel.metrics()
    expected_units = {
        gen_ai_metrics.GEN_AI_CLIENT_OPERATION_DURATION: "s",
        gen_ai_metrics.GEN_AI_CLIENT_TOKEN_USAGE: "{token}",
        gen_ai_metrics.GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK: "s",
        gen_ai_metrics.GEN_AI_CLIENT_OPERATION_TIME_PER_OUTPUT_CHUNK: "s",
    }
    for name, unit in expected_units.items():
        assert metrics[name].unit == unit, name
        buckets = TOKEN_BUCKETS if name == gen_ai_metrics.GEN_AI_CLIENT_TOKEN_USAGE else DURATION_BUCKETS
        for point in metrics[name].data.data_points:
            assert list(point.explicit_bounds) == buckets, name
    assert (
        gen_ai_metrics.GEN_AI_SERVER_TIME_TO_FIRST_TOKEN not in metrics
    )  # never a server metric client-side

    durations = {
        p.attributes.get(error_attributes.ERROR_TYPE): p
        for p in otel.points(gen_ai_metrics.GEN_AI_CLIENT_OPERATION_DURATION)
    }
    assert set(durations) == {None, "TimeoutError"}
    token_types = {
        p.attributes[GenAI.GEN_AI_TOKEN_TYPE] for p in otel.points(gen_ai_metrics.GEN_AI_CLIENT_TOKEN_USAGE)
    }
    assert token_types == {GenAI.GenAiTokenTypeValues.INPUT.value, GenAI.GenAiTokenTypeValues.OUTPUT.value}
    for point in otel.points(gen_ai_metrics.GEN_AI_CLIENT_TOKEN_USAGE):
        assert error_attributes.ERROR_TYPE not in point.attributes
    assert otel.histogram(gen_ai_metrics.GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK).count == 1
    assert otel.histogram(gen_ai_metrics.GEN_AI_CLIENT_OPERATION_TIME_PER_OUTPUT_CHUNK).count == 2
