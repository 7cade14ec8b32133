"""A chat call inside ``@traced_ai_call``: publish what genai-openai would, without running it.

Around an instrumented client call the decorator's span is the only one (S17): genai-openai's
invocation is suppressed and only *publishes* its request and response facts into the decorator's
context slot, which fills what the decorator did not know (``temperature`` passed to the client,
``server.address``, the ``openai.response.*`` metric attributes...). Running genai-openai's whole
invocation machinery for that is half of what the pair cost (issue 15). So, for a non-streaming chat
completion under our decorator's direct path, this wrapper (installed outside genai-openai's) calls
the client method underneath genai-openai and writes the same request facts into the slot with
genai-openai's own request extraction (``create_chat_invocation`` with a collecting handler) and
util-genai's own setters. The response is left in the slot for the decorator, which reads responses
itself (usually this very object, so it is read once) and puts genai-openai's two response metric
attributes on the points. Streams, other APIs, a util-genai outer invocation and anything unexpected
take the ordinary path, so the output is the same either way (``tests/genai/test_direct_inference.py``).
"""

from __future__ import annotations

from typing import Any, Final, cast

from opentelemetry.context import get_value
from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as GenAI
from opentelemetry.util.genai._conversation_context import get_ambient_conversation_id
from opentelemetry.util.genai._inference_invocation import InferenceInvocation
from opentelemetry.util.genai.invocation import CLIENT_INFERENCE_CONTEXT_KEY, InferenceData

from otel_secretary._internal.self_monitoring import report_internal_error
from otel_secretary.genai._direct import DecoratorSlot

_OPENAI: Final = GenAI.GenAiProviderNameValues.OPENAI.value
_CHAT: Final = GenAI.GenAiOperationNameValues.CHAT.value
_UNTOUCHED: Final = vars(InferenceData())
# The request keys genai-openai's ``create_chat_invocation`` reads besides ``model`` (and ``messages``
# and ``tools``, read only with content capture, which this path never asks for). A call passing none
# of them, the usual one, gets only the model and the server from it: those are written directly,
# with genai-openai's own server lookup. ``tests/instrumentation/test_openai_inside_decorator.py``
# checks this set against genai-openai's source, so a parameter it starts reading is not missed.
REQUEST_PARAMETERS: Final = frozenset(
    {
        "temperature",
        "p",
        "top_p",
        "max_completion_tokens",
        "max_tokens",
        "extra_body",
        "presence_penalty",
        "frequency_penalty",
        "seed",
        "stop",
        "n",
        "response_format",
        "service_tier",
    }
)


class _Collector:
    """Stands in for genai-openai's suppressed invocation: util-genai's setters, writing into ``data``."""

    def __init__(self, data: InferenceData) -> None:
        self.data = data
        self.attributes = data.attributes
        self.metric_attributes = data.metric_attributes


# The InferenceInvocation properties and methods genai-openai's extraction calls, taken as they are so
# the values land in the same fields util-genai would put them in.
for _name, _member in vars(InferenceInvocation).items():
    if isinstance(_member, property) or _name in (
        "set_input_tokens",
        "set_output_tokens",
        "set_cache_read_input_tokens",
        "_set_modality_tokens",
    ):
        setattr(_Collector, _name, _member)


class _CollectingHandler:
    """The ``handler`` ``create_chat_invocation`` asks for its invocation: a collector, no span."""

    __slots__ = ("collector",)

    def __init__(self, collector: _Collector) -> None:
        self.collector = collector

    def inference(
        self,
        provider: str,
        *,
        request_model: str | None = None,
        server_address: str | None = None,
        server_port: int | None = None,
    ) -> _Collector:
        data = self.collector.data
        data.provider_name = provider
        data.request_model = request_model
        data.server_address = server_address
        data.server_port = server_port
        data.operation_name = _CHAT
        data.conversation_id = get_ambient_conversation_id()
        return self.collector


class ChatInsideDecorator:
    """wrapt wrapper for ``Completions.create`` / ``AsyncCompletions.create``, outside genai-openai's."""

    def __init__(self) -> None:
        from opentelemetry.instrumentation.genai.openai.utils import (
            create_chat_invocation,
            get_server_address_and_port,
            is_streaming,
        )

        # Typed loosely: our stand-ins are duck-typed handler and invocation objects.
        self._create_chat_invocation: Any = create_chat_invocation
        self._server_of: Any = get_server_address_and_port
        self._is_streaming: Any = is_streaming

    def _slot(self, kwargs: dict[str, Any]) -> DecoratorSlot | None:
        slot = get_value(CLIENT_INFERENCE_CONTEXT_KEY)
        if type(slot) is not DecoratorSlot or self._is_streaming(kwargs):
            return None
        return slot

    def _request(self, slot: DecoratorSlot, instance: Any, kwargs: dict[str, Any]) -> _Collector:
        # A slot something already published into is merged into (as util-genai's publish does).
        data = slot if vars(slot) == _UNTOUCHED else InferenceData()
        collector = _Collector(data)
        try:
            handler = _CollectingHandler(collector)
            if kwargs.keys().isdisjoint(REQUEST_PARAMETERS):
                # What create_chat_invocation does for such a call, minus ~5 µs of checks on absent keys.
                address, port = self._server_of(instance)
                handler.inference(
                    _OPENAI,
                    request_model=kwargs.get("model", ""),
                    server_address=address if address else None,
                    server_port=port if port else None,
                )
            else:
                self._create_chat_invocation(handler, kwargs, instance, capture_content=False)
        except Exception as exc:
            report_internal_error("openai.inside_decorator.request", exc)
        return collector

    def _response(self, slot: DecoratorSlot, collector: _Collector, result: Any) -> None:
        try:
            # A completion has choices (checked first: a name a pydantic model lacks costs ~4 µs).
            if not hasattr(result, "choices"):
                parse = getattr(result, "parse", None)
                if callable(parse):
                    result = parse()  # with_raw_response, non-streaming: parse() is cached by the SDK
            # Left for the decorator, which reads responses itself (usually this very object: once).
            slot.inner_response = result
        except Exception as exc:
            report_internal_error("openai.inside_decorator.response", exc)
        self._publish(slot, collector)

    @staticmethod
    def _publish(slot: DecoratorSlot, collector: _Collector) -> None:
        if collector.data is not slot:
            cast(InferenceData, slot).merge(collector.data, overwrite=True)

    def sync(self, wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        slot = self._slot(kwargs)
        original = getattr(wrapped, "__wrapped__", None)
        if slot is None or original is None:
            return wrapped(*args, **kwargs)
        collector = self._request(slot, instance, kwargs)
        try:
            result = original(*args, **kwargs)
        except BaseException:
            self._publish(slot, collector)  # a failed call still publishes its request
            raise
        self._response(slot, collector, result)
        return result

    async def asynchronous(
        self, wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        slot = self._slot(kwargs)
        original = getattr(wrapped, "__wrapped__", None)
        if slot is None or original is None:
            return await wrapped(*args, **kwargs)
        collector = self._request(slot, instance, kwargs)
        try:
            result = await original(*args, **kwargs)
        except BaseException:
            self._publish(slot, collector)
            raise
        self._response(slot, collector, result)
        return result
