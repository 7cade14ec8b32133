"""``@traced_ai_call``: one GenAI CLIENT span (and the convention's metrics) per decorated call.

Four wrappers, chosen once at decoration time: plain function, coroutine function, generator and
async generator. A plain function that *returns* a stream (``client.chat.completions.create(stream=
True)``) gets its stream wrapped, so the span covers the whole stream in every case. A stream ends
its span exactly once: on exhaustion, error, ``close()``/``aclose()``, or garbage collection.

Around an already instrumented client call (genai-openai), util-genai's suppression gives one span:
the inner instrumentation publishes its data into ours instead of starting a second span (for a
non-streaming chat completion under our instrumentor, without running genai-openai's invocation at
all: ``otel_secretary.instrumentation.openai_inside_decorator``).
"""

from __future__ import annotations

import contextlib
import functools
import inspect
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, ParamSpec, TypeVar, cast

from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as GenAI

from ._call import CallSpec, TracedCall
from ._telemetry import GenAITelemetry

P = ParamSpec("P")
R = TypeVar("R")

_KNOWN_OPERATIONS = frozenset(v.value for v in GenAI.GenAiOperationNameValues)
_NOT_STREAMS = (str, bytes, bytearray, dict, list, tuple, set, frozenset)


def traced_ai_call(
    operation: str = "chat",
    model: str | None = None,
    provider: str = "openai",
    capture_content: bool | None = None,
    *,
    telemetry: GenAITelemetry | None = None,
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Trace a function that calls a model.

    ``model`` defaults to the call's ``model=`` keyword argument; ``capture_content=None`` follows
    ``OTEL_SECRETARY_CAPTURE_CONTENT`` (content is masked whenever it is captured). Usage, response
    model, id and finish reasons are read from the return value (an OpenAI object or a dict of the
    same shape) or, for streams, from the chunks.
    """
    if not isinstance(operation, str):
        raise TypeError(
            "@traced_ai_call needs parentheses: write @traced_ai_call() or @traced_ai_call(operation='chat')"
        )
    if not operation or not isinstance(provider, str) or not provider:
        raise TypeError("@traced_ai_call: operation and provider must be non-empty strings")

    def decorate(func: Callable[P, R]) -> Callable[P, R]:
        if isinstance(func, (staticmethod, classmethod)):
            raise TypeError("@traced_ai_call must be applied below @staticmethod/@classmethod, not above")
        if not callable(func):
            raise TypeError(f"@traced_ai_call can only decorate a callable, not {type(func).__name__}")
        spec = CallSpec(operation, model, provider, capture_content, telemetry)
        # Some builtins have no signature; prompts are then read from kwargs only.
        with contextlib.suppress(TypeError, ValueError):
            spec.find_prompt_parameter(inspect.signature(func))
        if inspect.isasyncgenfunction(func):
            wrapper: Callable[..., Any] = _async_generator_wrapper(spec, func)
        elif inspect.iscoroutinefunction(func):
            wrapper = _coroutine_wrapper(spec, func)
        elif inspect.isgeneratorfunction(func):
            wrapper = _generator_wrapper(spec, func)
        else:
            wrapper = _function_wrapper(spec, func)
        return cast(Callable[P, R], functools.wraps(func)(wrapper))

    return decorate


def is_known_operation(operation: str) -> bool:
    """Whether ``operation`` is a well-known ``gen_ai.operation.name`` value (others are allowed)."""
    return operation in _KNOWN_OPERATIONS


def _function_wrapper(spec: CallSpec, func: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        call = TracedCall.start(spec, args, kwargs, attach_context=True)
        if call is None:
            return func(*args, **kwargs)
        try:
            result = func(*args, **kwargs)
        except BaseException as exc:
            call.fail(exc)
            raise
        if _is_sync_stream(result):
            call.suspend()
            return TracedStream(result, call)
        if _is_async_stream(result):
            call.suspend()
            return TracedAsyncStream(result, call)
        if inspect.iscoroutine(result):
            # A plain function returning a coroutine (e.g. a decorated bound method of AsyncOpenAI,
            # whose wrappers hide that it is async): the call ends when the result is awaited. Only
            # bare coroutines: a returned Task or Future keeps its own type (and gets a span as is).
            call.suspend()
            return _finish_when_awaited(result, call)
        call.on_result(result)
        call.finish()
        return result

    return wrapper


async def _finish_when_awaited(awaitable: Any, call: TracedCall) -> Any:
    token = call.activate()
    try:
        result = await awaitable
    except BaseException as exc:
        call.fail(exc)
        raise
    finally:
        call.deactivate(token)
    return _end_with_awaited(result, call)


def _coroutine_wrapper(spec: CallSpec, func: Callable[..., Any]) -> Callable[..., Any]:
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        call = TracedCall.start(spec, args, kwargs, attach_context=True)
        if call is None:
            return await func(*args, **kwargs)
        try:
            result = await func(*args, **kwargs)
        except BaseException as exc:
            call.fail(exc)
            raise
        return _end_with_awaited(result, call)

    return wrapper


def _end_with_awaited(result: Any, call: TracedCall) -> Any:
    """End ``call`` with what a coroutine returned, or hand a returned stream the rest of the call.

    An async stream is looked for first (a plain function's result is checked the other way round).
    """
    if _is_async_stream(result):
        call.suspend()  # idempotent: a no-op when the call was suspended before it was awaited
        return TracedAsyncStream(result, call)
    if _is_sync_stream(result):
        call.suspend()
        return TracedStream(result, call)
    call.on_result(result)
    call.finish()
    return result


def _generator_wrapper(spec: CallSpec, func: Callable[..., Iterator[Any]]) -> Callable[..., Iterator[Any]]:
    def wrapper(*args: Any, **kwargs: Any) -> Iterator[Any]:
        call = TracedCall.start(spec, args, kwargs, attach_context=False)
        if call is None:
            return (yield from func(*args, **kwargs))
        inner = func(*args, **kwargs)
        try:
            while True:
                token = call.activate()
                try:
                    item = next(inner)
                finally:
                    call.deactivate(token)
                call.on_chunk(item)
                yield item
        except StopIteration:
            call.finish()
        except GeneratorExit:
            _close_quietly(inner, call)
            call.finish()
            raise
        except BaseException as exc:
            call.fail(exc)
            raise

    return wrapper


def _async_generator_wrapper(
    spec: CallSpec, func: Callable[..., AsyncIterator[Any]]
) -> Callable[..., AsyncIterator[Any]]:
    async def wrapper(*args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        call = TracedCall.start(spec, args, kwargs, attach_context=False)
        if call is None:
            async for item in func(*args, **kwargs):
                yield item
            return
        inner = func(*args, **kwargs)
        try:
            while True:
                token = call.activate()
                try:
                    item = await inner.__anext__()
                finally:
                    call.deactivate(token)
                call.on_chunk(item)
                yield item
        except StopAsyncIteration:
            call.finish()
        except GeneratorExit:
            # Closed by aclose() or by the event loop's finaliser after GC: close the inner one too.
            # The caller asked us to stop; the inner generator's cleanup errors are not ours to raise.
            with contextlib.suppress(Exception):
                await inner.aclose()  # type: ignore[attr-defined]
            call.finish()
            raise
        except BaseException as exc:
            call.fail(exc)
            raise
        finally:
            if not call.finished:
                call.finish()

    return wrapper


def _close_quietly(inner: Iterator[Any], call: TracedCall) -> None:
    close = getattr(inner, "close", None)
    if close is None:
        return
    token = call.activate()
    try:
        close()
    finally:
        call.deactivate(token)


def _is_sync_stream(value: Any) -> bool:
    return (
        not isinstance(value, _NOT_STREAMS)
        and hasattr(type(value), "__next__")
        and hasattr(type(value), "__iter__")
    )


def _is_async_stream(value: Any) -> bool:
    return not isinstance(value, _NOT_STREAMS) and hasattr(type(value), "__anext__")


class _StreamOfCall:
    """What the sync and async stream wrappers share: the call they end, if nothing else did, on GC,
    and the wrapped SDK stream's own API (``response``, ``until_done``...) kept reachable."""

    __slots__ = ("__weakref__", "_call", "_stream")

    def __init__(self, stream: Any, call: TracedCall) -> None:
        self._stream = stream
        self._call = call

    def __del__(self) -> None:
        call = getattr(self, "_call", None)
        if call is not None and not call.finished:
            call.finish()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


class TracedStream(_StreamOfCall):
    """Wraps a returned sync stream; ends the call on exhaustion, error, close(), exit or GC."""

    __slots__ = ()

    def __iter__(self) -> TracedStream:
        return self

    def __next__(self) -> Any:
        call = self._call
        token = call.activate()
        try:
            item = next(self._stream)
        except StopIteration:
            call.finish()
            raise
        except BaseException as exc:
            call.fail(exc)
            raise
        finally:
            call.deactivate(token)
        call.on_chunk(item)
        return item

    def close(self) -> None:
        try:
            close = getattr(self._stream, "close", None)
            if close is not None:
                close()
        finally:
            self._call.finish()

    def __enter__(self) -> TracedStream:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class TracedAsyncStream(_StreamOfCall):
    """Async twin of :class:`TracedStream` (``aclose()``/``async with``)."""

    __slots__ = ()

    def __aiter__(self) -> TracedAsyncStream:
        return self

    async def __anext__(self) -> Any:
        call = self._call
        token = call.activate()
        try:
            item = await self._stream.__anext__()
        except StopAsyncIteration:
            call.finish()
            raise
        except BaseException as exc:
            call.fail(exc)
            raise
        finally:
            call.deactivate(token)
        call.on_chunk(item)
        return item

    async def aclose(self) -> None:
        try:
            close = getattr(self._stream, "aclose", None) or getattr(self._stream, "close", None)
            if close is not None:
                result = close()
                if inspect.isawaitable(result):
                    await result
        finally:
            self._call.finish()

    async def close(self) -> None:
        await self.aclose()

    async def __aenter__(self) -> TracedAsyncStream:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
