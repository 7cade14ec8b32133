"""The direct paths (decorator inference, @traced_tool) emit what util-genai's handlers emit.

Each scenario runs twice against the local OpenAI stand-in with the real client: once on the direct
path (the default) and once with it turned off, so util-genai builds the span. Span names, kinds,
status, parents, attribute keys and (non-volatile) values, and every metric point's attributes and
count must match. Under our OpenAI instrumentor that also compares genai-openai's suppressed inner
invocation (util-genai path) with ``openai_inside_decorator`` publishing the same facts (direct path).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import openai
import pytest
from opentelemetry.context import attach, detach
from opentelemetry.util.genai._conversation_context import with_conversation_id

from otel_secretary.genai import GenAITelemetry, traced_ai_call
from otel_secretary.genai import _call as call_module
from otel_secretary.genai._direct import DirectInference
from otel_secretary.instrumentation.openai import SecretaryOpenAIInstrumentor
from otel_secretary.instrumentation.openai_inside_decorator import ChatInsideDecorator
from otel_secretary.testing.local_services import openai_api
from tests.support.otel_harness import Harness, make_harness

MESSAGES = [{"role": "user", "content": "Summarise the meeting notes."}]
# Values that differ from run to run (ids, timings, cost of different token counts is not expected).
VOLATILE = {"gen_ai.response.id", "gen_ai.response.time_to_first_chunk"}


def _plain(client: openai.OpenAI, telemetry: GenAITelemetry) -> None:
    @traced_ai_call(telemetry=telemetry)
    def summarize(model: str, temperature: float) -> Any:
        return client.chat.completions.create(model=model, messages=MESSAGES, temperature=temperature)

    summarize(model="gpt-4o-mini", temperature=0.2)


def _text(client: openai.OpenAI, telemetry: GenAITelemetry) -> None:
    # What most apps return: the answer's text, not the response (the client's response is read).
    @traced_ai_call(telemetry=telemetry)
    def summarize(model: str) -> str | None:
        return client.chat.completions.create(model=model, messages=MESSAGES).choices[0].message.content

    assert summarize(model="gpt-4o-mini")


def _raw(client: openai.OpenAI, telemetry: GenAITelemetry) -> None:
    @traced_ai_call(telemetry=telemetry)
    def summarize(model: str) -> Any:
        return client.chat.completions.with_raw_response.create(model=model, messages=MESSAGES, seed=3)

    assert summarize(model="gpt-4o-mini").parse().usage


def _stream(client: openai.OpenAI, telemetry: GenAITelemetry) -> None:
    @traced_ai_call(model="gpt-4o-mini", telemetry=telemetry)
    def stream() -> Any:
        return client.chat.completions.create(
            model="gpt-4o-mini", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
        )

    for _chunk in stream():
        pass


def _generator(client: openai.OpenAI, telemetry: GenAITelemetry) -> None:
    @traced_ai_call(model="gpt-4o-mini", telemetry=telemetry)
    def words(messages: Any) -> Any:
        yield from ("one ", "two ", "three")

    assert "".join(words(MESSAGES)) == "one two three"


def _failure(client: openai.OpenAI, telemetry: GenAITelemetry) -> None:
    @traced_ai_call(model="gpt-4o-mini", telemetry=telemetry)
    def broken(messages: Any) -> Any:
        raise TimeoutError("model did not answer")

    with pytest.raises(TimeoutError):
        broken(MESSAGES)


def _conversation(client: openai.OpenAI, telemetry: GenAITelemetry) -> None:
    @traced_ai_call(telemetry=telemetry)
    def ask(model: str) -> Any:
        return client.chat.completions.create(
            model=model,
            messages=MESSAGES,
            seed=7,
            stop=["\n"],
            n=2,
            max_completion_tokens=50,
            frequency_penalty=0.1,
            presence_penalty=0.2,
            response_format={"type": "json_object"},
            service_tier="default",
        )

    token = attach(with_conversation_id("conv-synthetic-1"))
    try:
        ask(model="gpt-4o-mini")
    finally:
        detach(token)


def _async(client: openai.OpenAI, telemetry: GenAITelemetry) -> None:
    aclient = openai.AsyncOpenAI(base_url=str(client.base_url), api_key="sk-fake-test")

    @traced_ai_call(telemetry=telemetry)
    async def ask(model: str) -> Any:
        return await aclient.chat.completions.create(model=model, messages=MESSAGES, top_p=0.5)

    asyncio.run(ask(model="gpt-4o-mini"))


BYPASSED = {"plain", "text", "raw", "conversation", "async"}
SCENARIOS: dict[str, Callable[[openai.OpenAI, GenAITelemetry], None]] = {
    "plain": _plain,
    "text": _text,
    "raw": _raw,
    "stream": _stream,
    "generator": _generator,
    "failure": _failure,
    "conversation": _conversation,
    "async": _async,
}


def _run(
    scenario: Callable[[openai.OpenAI, GenAITelemetry], None],
    client: openai.OpenAI,
    direct: bool,
    instrumented: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> tuple[list[Any], list[Any], tuple[int, int]]:
    used: list[object] = []
    bypassed: list[object] = []
    original = DirectInference.__init__
    original_request = ChatInsideDecorator._request

    def counting_init(self: DirectInference, *args: Any, **kwargs: Any) -> None:
        used.append(self)
        original(self, *args, **kwargs)

    def counting_request(self: ChatInsideDecorator, *args: Any) -> Any:
        bypassed.append(self)
        return original_request(self, *args)

    with monkeypatch.context() as patch:
        patch.setattr(DirectInference, "__init__", counting_init)
        patch.setattr(ChatInsideDecorator, "_request", counting_request)
        if not direct:
            patch.setattr(call_module, "direct_inference_possible", lambda handler: False)
        harness_iter = make_harness()
        otel: Harness = next(harness_iter)
        instrumentor = SecretaryOpenAIInstrumentor()
        if instrumented:
            instrumentor.instrument(tracer_provider=otel.tracer_provider, meter_provider=otel.meter_provider)
        try:
            scenario(client, GenAITelemetry(otel.tracer_provider, otel.meter_provider))
        finally:
            if instrumented:
                instrumentor.uninstrument()
        spans = sorted(
            (
                s.name,
                str(s.kind),
                s.instrumentation_scope.name,
                s.status.status_code.name,
                s.status.description,
                s.parent is not None,
                sorted(s.attributes.items() if s.attributes else (), key=lambda kv: kv[0]),
                [e.name for e in s.events],
            )
            for s in otel.spans()
        )
        spans = [
            (*head, [(k, None if k in VOLATILE else v) for k, v in attributes], events)
            for (*head, attributes, events) in spans
        ]
        points = []
        data = otel.reader.get_metrics_data()
        for resource_metrics in data.resource_metrics if data else ():
            for scope_metrics in resource_metrics.scope_metrics:
                for metric in scope_metrics.metrics:
                    for point in metric.data.data_points:
                        count = getattr(point, "count", None)
                        points.append(
                            (scope_metrics.scope.name, metric.name, sorted(point.attributes.items()), count)
                        )
        for _rest in harness_iter:  # shut the providers down
            pass
    return spans, sorted(points, key=repr), (len(used), len(bypassed))


@pytest.mark.parametrize("instrumented", [False, True], ids=["decorator", "decorator+instrumentor"])
@pytest.mark.parametrize("name", list(SCENARIOS))
def test_direct_path_matches_util_genai(
    name: str, instrumented: bool, client: openai.OpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    scenario = SCENARIOS[name]
    direct_spans, direct_points, direct_used = _run(scenario, client, True, instrumented, monkeypatch)
    genai_spans, genai_points, genai_used = _run(scenario, client, False, instrumented, monkeypatch)
    # Each path really ran; under the instrumentor a non-streaming client call skips genai-openai.
    assert direct_used[0] == 1 and genai_used == (0, 0)
    assert direct_used[1] == (1 if instrumented and name in BYPASSED else 0)
    assert direct_spans == genai_spans
    assert direct_points == genai_points
    assert any(metric == "gen_ai.client.operation.duration" for _scope, metric, _a, _c in direct_points)


def test_nested_decorated_calls_fall_back_to_util_genai(
    client: openai.OpenAI, otel: Harness, telemetry: GenAITelemetry
) -> None:
    @traced_ai_call(model="gpt-4o-mini", telemetry=telemetry)
    def inner(messages: Any) -> Any:
        return client.chat.completions.create(model="gpt-4o-mini", messages=messages)

    @traced_ai_call(model="gpt-4o-mini", telemetry=telemetry)
    def outer(messages: Any) -> Any:
        return inner(messages)

    outer(MESSAGES)
    # util-genai suppresses the inner invocation into the outer one: one span, as before.
    (span,) = otel.spans()
    assert span.attributes is not None and span.attributes["gen_ai.usage.input_tokens"] > 0


# -- @traced_tool: DirectTool against util-genai's ToolInvocation ------------------------------------


def _tool_run(direct: bool, capture: bool, monkeypatch: pytest.MonkeyPatch) -> tuple[list[Any], list[Any]]:
    from otel_secretary.genai import _agents as agents_module
    from otel_secretary.genai import dispatch_tool_calls, traced_agent, traced_tool

    with monkeypatch.context() as patch:
        if not direct:
            patch.setattr(agents_module, "direct_tool_possible", lambda handler: False)
        harness_iter = make_harness()
        otel: Harness = next(harness_iter)
        telemetry = GenAITelemetry(
            otel.tracer_provider, otel.meter_provider, capture_content=capture, mask=lambda text: text.upper()
        )

        @traced_tool(description="Find the sender's subscription.", telemetry=telemetry)
        def lookup_subscription(email: str) -> dict[str, str]:
            return {"plan": "pro", "email": email}

        @traced_tool(name="draft_reply", type="extension", telemetry=telemetry)
        def draft(text: str) -> str:
            raise RuntimeError("drafting service down")

        lookup_subscription("erin@example.com")
        calls = [
            {
                "id": "call_1",
                "function": {"name": "lookup_subscription", "arguments": '{"email": "a@example.com"}'},
            },
            {"id": "call_2", "function": {"name": "draft_reply", "arguments": '{"text": "hello"}'}},
        ]
        token = attach(with_conversation_id("conv-synthetic-2"))
        try:
            with traced_agent("secretary", telemetry=telemetry):
                dispatch_tool_calls(calls, {"lookup_subscription": lookup_subscription, "draft_reply": draft})
        finally:
            detach(token)
        spans = sorted(
            (
                s.name,
                str(s.kind),
                s.status.status_code.name,
                s.status.description,
                s.parent is not None,
                sorted(s.attributes.items() if s.attributes else ()),
                [(e.name, sorted((e.attributes or {}).keys())) for e in s.events],
            )
            for s in otel.spans()
        )
        points = sorted(
            (metric, sorted(p.attributes.items()), p.count)
            for metric in ("gen_ai.execute_tool.duration",)
            for p in otel.points(metric)
        )
        for _rest in harness_iter:
            pass
    return spans, points


@pytest.mark.parametrize("capture", [False, True], ids=["no-content", "content"])
def test_direct_tool_matches_util_genai(capture: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    direct_spans, direct_points = _tool_run(True, capture, monkeypatch)
    genai_spans, genai_points = _tool_run(False, capture, monkeypatch)
    assert direct_spans == genai_spans
    assert direct_points == genai_points
    assert len(direct_points) == 3  # lookup alone, lookup under the agent, the failing draft
    assert any(
        name == "execute_tool draft_reply" and status == "ERROR" for name, _k, status, *_ in direct_spans
    )


def test_the_fast_request_path_knows_every_parameter_genai_openai_reads() -> None:
    """A call passing none of REQUEST_PARAMETERS skips genai-openai's extraction; if genai-openai starts
    reading another request key, that key must join the set, or calls passing it would lose it."""
    import ast
    import inspect

    from opentelemetry.instrumentation.genai.openai import utils

    from otel_secretary.instrumentation.openai_inside_decorator import REQUEST_PARAMETERS

    tree = ast.parse(inspect.getsource(utils.create_chat_invocation))
    read = {
        node.args[0].value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "get"
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "kwargs"
        and node.args
        and isinstance(node.args[0], ast.Constant)
    }
    assert "temperature" in read  # the source was really read
    # model goes through the fast path too; messages and tools are read only with content capture.
    assert read - {"model", "messages", "tools"} == REQUEST_PARAMETERS


def test_inference_data_built_without_its_init_equals_the_dataclass() -> None:
    """``new_inference_data`` skips the generated ``__init__``; a field util-genai adds (or a default it
    changes) must still come out as the constructor makes it, with fresh mutable defaults per object."""
    from opentelemetry.util.genai.invocation import InferenceData

    from otel_secretary.genai import _direct
    from otel_secretary.genai._direct import DecoratorSlot, new_inference_data

    assert _direct._SHORTCUT  # the installed util-genai takes the shortcut: what is compared below
    fast = new_inference_data(InferenceData, provider_name="openai", request_model="gpt-4o-mini")
    assert vars(fast) == vars(InferenceData(provider_name="openai", request_model="gpt-4o-mini"))
    assert type(new_inference_data(DecoratorSlot)) is DecoratorSlot
    assert vars(new_inference_data(DecoratorSlot)) == vars(DecoratorSlot())
    other = new_inference_data(InferenceData)
    fast.attributes["k"] = "v"
    fast.metric_attributes["k"] = "v"
    assert other.attributes == {} and other.metric_attributes == {}


def test_cached_metric_attribute_sets_follow_the_response_metric_attributes(
    client: openai.OpenAI, fake_openai: openai_api.FakeOpenAI, otel: Harness
) -> None:
    """The three metric attribute sets are reused per model *and* per response attributes genai-openai
    puts on the points (service tier, fingerprint): a new fingerprint gets its own series."""
    telemetry = GenAITelemetry(otel.tracer_provider, otel.meter_provider)
    instrumentor = SecretaryOpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=otel.tracer_provider, meter_provider=otel.meter_provider)

    @traced_ai_call(model="gpt-4o-mini", telemetry=telemetry)
    def ask() -> Any:
        return client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)

    previous = fake_openai.system_fingerprint  # the server is shared by the module's tests
    try:
        for fingerprint in ("fp_first01", "fp_second2", "fp_first01"):
            fake_openai.system_fingerprint = fingerprint
            ask()
    finally:
        fake_openai.system_fingerprint = previous
        instrumentor.uninstrument()
    counts = {
        point.attributes["openai.response.system_fingerprint"]: point.count
        for point in otel.points("gen_ai.client.operation.duration")
    }
    assert counts == {"fp_first01": 2, "fp_second2": 1}


def test_inference_data_falls_back_to_the_constructor_when_the_shortcut_does_not_hold(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A util-genai whose InferenceData gains a ``__post_init__`` (or slots, or a required field) must
    not make every traced call fail: the check says no and the constructor is used."""
    from opentelemetry.util.genai.invocation import InferenceData

    from otel_secretary.genai import _direct

    monkeypatch.setattr(InferenceData, "__post_init__", lambda self: None, raising=False)
    assert _direct._shortcut_holds() is False
    monkeypatch.setattr(_direct, "_SHORTCUT", False)
    made: list[dict[str, Any]] = []

    class Recording(InferenceData):
        def __init__(self, **values: Any) -> None:
            made.append(values)
            super().__init__(**values)

    data = _direct.new_inference_data(Recording, provider_name="openai")
    assert made == [{"provider_name": "openai"}] and data.provider_name == "openai"
