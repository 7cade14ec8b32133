"""Agent telemetry: ``@traced_tool``, ``traced_agent``, ``traced_workflow`` and tool-call dispatch.

A trace of one agent turn reads workflow → agent → chat → execute_tool → Calendar/Stripe spans.
The spans come from util-genai's handlers (``tool()``, ``invoke_local_agent()``, ``workflow()``), so
names, kinds, attributes and the duration metrics are the conventions' (v1.41); we add what they
leave to the caller: the model's tool call id (carried from :func:`dispatch_tool_calls` to the tool
in a context variable), the agent name on tool spans, masked arguments/results under
``OTEL_SECRETARY_CAPTURE_CONTENT``, error classification, and the conversation id from
``request_context(conversation_id=...)``. Nothing here raises into the host app: a telemetry
failure runs the tool or agent untraced.
"""

from __future__ import annotations

import functools
import inspect
import json
from collections.abc import Callable, Iterable, Mapping
from contextvars import ContextVar, Token
from types import TracebackType
from typing import Any, Final, ParamSpec, TypeVar, cast

from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as GenAI

from otel_secretary._internal.self_monitoring import report_internal_error

from ._content import masked_json
from ._direct import DirectTool, direct_tool_possible
from ._extract import get
from ._telemetry import GenAITelemetry, conversation_from_baggage, default_telemetry

P = ParamSpec("P")
R = TypeVar("R")

TOOL_TYPES: Final = frozenset({"function", "extension", "datastore"})
_tool_call_id: ContextVar[str | None] = ContextVar("otel_secretary_tool_call_id", default=None)
_agent_name: ContextVar[str | None] = ContextVar("otel_secretary_agent_name", default=None)


def _error_type(exc: BaseException) -> str:
    cls = type(exc)
    module = cls.__module__
    return cls.__qualname__ if module in (None, "builtins") else f"{module}.{cls.__qualname__}"


def _classify(span: Any, exc: BaseException, system: str) -> None:
    try:
        from otel_secretary.errors import record_exception

        record_exception(span, exc, system=system)
    except Exception as failure:
        report_internal_error("genai.classify", failure)


def _fail(invocation: Any, exc: BaseException, system: str) -> None:
    try:
        from opentelemetry.util.genai.types import Error

        _classify(invocation.span, exc, system)
        invocation.fail(Error(message=_error_type(exc), type=_error_type(exc), exception=exc))
    except Exception as failure:
        report_internal_error("genai.fail", failure)


# -- tools ---------------------------------------------------------------------------------------


class _ToolSpec:
    __slots__ = ("description", "name", "signature", "telemetry", "tool_type")

    def __init__(
        self, name: str, description: str | None, tool_type: str, telemetry: GenAITelemetry | None
    ) -> None:
        self.name = name
        self.description = description
        self.tool_type = tool_type
        self.telemetry = telemetry
        self.signature: inspect.Signature | None = None

    def start(self, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> tuple[Any, GenAITelemetry] | None:
        try:
            telemetry = self.telemetry or default_telemetry()
            handler = telemetry.handler
            invocation: Any
            if direct_tool_possible(handler):  # util-genai's output without its per-call machinery
                invocation = DirectTool(
                    handler,
                    self.name,
                    self.tool_type,
                    _agent_name.get(),
                    _tool_call_id.get(),
                    self.description or None,
                )
            else:
                invocation = handler.tool(self.name, tool_type=self.tool_type, agent_name=_agent_name.get())
                invocation.tool_call_id = _tool_call_id.get()
                if self.description:
                    invocation.tool_description = self.description
            if telemetry.capture_content:
                arguments = masked_json(self._arguments(args, kwargs), telemetry.mask)
                if arguments:
                    invocation.attributes[GenAI.GEN_AI_TOOL_CALL_ARGUMENTS] = arguments
            return invocation, telemetry
        except Exception as exc:
            report_internal_error("genai.tool_start", exc)
            return None

    def _arguments(self, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> dict[str, Any]:
        # Bound only under content capture: the common path never pays for signature binding.
        if args and self.signature is not None:
            try:
                return dict(self.signature.bind_partial(*args, **kwargs).arguments)
            except TypeError:
                pass
        return dict(kwargs)

    @staticmethod
    def finish(state: tuple[Any, GenAITelemetry], result: Any) -> None:
        invocation, telemetry = state
        try:
            if telemetry.capture_content:
                masked = masked_json(result, telemetry.mask) if not isinstance(result, str) else None
                if isinstance(result, str):
                    masked = telemetry.mask(result)
                if masked:
                    invocation.attributes[GenAI.GEN_AI_TOOL_CALL_RESULT] = masked
            invocation.stop()
        except Exception as exc:
            report_internal_error("genai.tool_stop", exc)


def traced_tool(
    name: str | None = None,
    description: str | None = None,
    type: str = "function",
    *,
    telemetry: GenAITelemetry | None = None,
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Trace a function the model can call: one ``execute_tool {name}`` span (INTERNAL) per call.

    ``name`` defaults to the function's name (use the name the model sees in the tool definition);
    ``type`` is ``function``, ``extension`` or ``datastore``. The tool call id comes from
    :func:`dispatch_tool_calls` (or :func:`tool_call_scope`). Arguments and result are recorded,
    masked, only when content capture is on.
    """
    if callable(name):
        raise TypeError("@traced_tool needs parentheses: write @traced_tool() or @traced_tool(name='...')")
    if type not in TOOL_TYPES:
        raise ValueError(f"@traced_tool: type={type!r}; use one of {sorted(TOOL_TYPES)}")

    def decorate(func: Callable[P, R]) -> Callable[P, R]:
        if not callable(func):
            raise TypeError(f"@traced_tool can only decorate a callable, not {func.__class__.__name__}")
        tool_name = name or str(getattr(func, "__name__", "tool"))
        spec = _ToolSpec(tool_name, description, type, telemetry)
        try:
            spec.signature = inspect.signature(func)
        except (TypeError, ValueError):
            spec.signature = None
        if inspect.iscoroutinefunction(func):

            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                state = spec.start(args, kwargs)
                if state is None:
                    return await func(*args, **kwargs)
                try:
                    result = await func(*args, **kwargs)
                except BaseException as exc:
                    _fail(state[0], exc, "tool")
                    raise
                spec.finish(state, result)
                return result

            wrapper: Callable[..., Any] = async_wrapper
        else:

            def sync_wrapper(*args: Any, **kwargs: Any) -> Any:
                state = spec.start(args, kwargs)
                if state is None:
                    return func(*args, **kwargs)
                try:
                    result = func(*args, **kwargs)
                except BaseException as exc:
                    _fail(state[0], exc, "tool")
                    raise
                spec.finish(state, result)
                return result

            wrapper = sync_wrapper
        traced = functools.wraps(func)(wrapper)
        traced.__otel_secretary_tool__ = spec.name  # type: ignore[attr-defined]
        return cast(Callable[P, R], traced)

    return decorate


class tool_call_scope:
    """Make ``call_id`` the ``gen_ai.tool.call.id`` of the traced tools run inside the block."""

    def __init__(self, call_id: str | None) -> None:
        self._call_id = call_id
        self._token: Token[str | None] | None = None

    def __enter__(self) -> None:
        self._token = _tool_call_id.set(self._call_id)

    def __exit__(self, *exc_info: object) -> None:
        if self._token is not None:
            _tool_call_id.reset(self._token)
            self._token = None


def _call_parts(call: Any) -> tuple[str | None, str, Any]:
    """(id, name, parsed arguments) of a Chat Completions tool call or a Responses function_call item."""
    function = get(call, "function")
    if function is not None:
        call_id, name, arguments = get(call, "id"), get(function, "name"), get(function, "arguments")
    else:
        call_id, name, arguments = get(call, "call_id"), get(call, "name"), get(call, "arguments")
    if isinstance(arguments, str):
        arguments = json.loads(arguments) if arguments.strip() else {}
    return call_id, str(name), arguments if isinstance(arguments, Mapping) else {}


def _resolve(
    call: Any, tools: Mapping[str, Callable[..., Any]], raise_errors: bool
) -> tuple[str | None, Callable[..., Any] | None, dict[str, Any]]:
    """(call id, tool, arguments) of a call that can run; when it cannot (arguments that are not JSON,
    an unknown tool), the tool is None and the third item is the message that tells the model why."""
    try:
        call_id, name, arguments = _call_parts(call)
    except ValueError:  # the model sent arguments that are not JSON: tell it, as the API docs advise
        if raise_errors:
            raise
        call_id = get(call, "id") or get(call, "call_id")
        return call_id, None, _tool_message(call_id, {"error": "invalid arguments"})
    tool = tools.get(name)
    if tool is None:
        return call_id, None, _tool_message(call_id, {"error": f"unknown tool {name}"})
    return call_id, tool, arguments if isinstance(arguments, dict) else dict(arguments)


def _tool_message(call_id: str | None, result: Any) -> dict[str, Any]:
    content = result if isinstance(result, str) else json.dumps(result, default=str)
    return {"role": "tool", "tool_call_id": call_id, "content": content}


def _error_message(call_id: str | None, exc: BaseException, raise_errors: bool) -> dict[str, Any]:
    """Called while ``exc`` is being handled: re-raises it when asked to, else the message answering it."""
    if raise_errors:
        raise
    # Only the class name goes back to the model: the message may hold data the model should not see.
    return _tool_message(call_id, {"error": type(exc).__name__})


def dispatch_tool_calls(
    tool_calls: Iterable[Any], tools: Mapping[str, Callable[..., Any]], *, raise_errors: bool = False
) -> list[dict[str, Any]]:
    """Run each tool call the model requested; returns the ``role: tool`` messages to send back.

    Each tool runs inside :func:`tool_call_scope` of its call id, so its ``execute_tool`` span carries
    the same ``gen_ai.tool.call.id`` as the chat span that requested it. A tool that raises is
    recorded on its span and answered with ``{"error": "<ExceptionClass>"}`` unless ``raise_errors``.
    """
    return [_dispatch_one(call, tools, raise_errors) for call in tool_calls]


async def adispatch_tool_calls(
    tool_calls: Iterable[Any],
    tools: Mapping[str, Callable[..., Any]],
    *,
    raise_errors: bool = False,
) -> list[dict[str, Any]]:
    """Async twin of :func:`dispatch_tool_calls`; tools may be sync or async."""
    return [await _adispatch_one(call, tools, raise_errors) for call in tool_calls]


def _dispatch_one(call: Any, tools: Mapping[str, Callable[..., Any]], raise_errors: bool) -> dict[str, Any]:
    call_id, tool, arguments = _resolve(call, tools, raise_errors)
    if tool is None:
        return arguments
    with tool_call_scope(call_id):
        try:
            result = tool(**arguments)
        except Exception as exc:
            return _error_message(call_id, exc, raise_errors)
    return _tool_message(call_id, result)


async def _adispatch_one(
    call: Any, tools: Mapping[str, Callable[..., Any]], raise_errors: bool
) -> dict[str, Any]:
    # The sync twin's steps, with the tool's result awaited when it is awaitable.
    call_id, tool, arguments = _resolve(call, tools, raise_errors)
    if tool is None:
        return arguments
    with tool_call_scope(call_id):
        try:
            result = tool(**arguments)
            if inspect.isawaitable(result):
                result = await result
        except Exception as exc:
            return _error_message(call_id, exc, raise_errors)
    return _tool_message(call_id, result)


# -- agents and workflows ------------------------------------------------------------------------


class _Scope:
    """A span-owning scope usable as decorator (sync/async) and as a (async) context manager."""

    _system = "agent"

    def __init__(self, name: str, conversation_id: str | None, telemetry: GenAITelemetry | None) -> None:
        if not isinstance(name, str) or not name:
            raise TypeError(f"{type(self).__name__} needs a non-empty name")
        self.name = name
        self.conversation_id = conversation_id
        self.telemetry = telemetry
        self._invocation: Any = None
        self._agent_token: Token[str | None] | None = None

    def _start(self, telemetry: GenAITelemetry, conversation_id: str | None) -> Any:
        raise NotImplementedError

    def _begin(self) -> None:
        try:
            telemetry = self.telemetry or default_telemetry()
            self._invocation = self._start(telemetry, self.conversation_id or conversation_from_baggage())
        except Exception as exc:
            report_internal_error(f"genai.{self._system}_start", exc)
            self._invocation = None

    def _end(self, exc: BaseException | None) -> None:
        invocation, self._invocation = self._invocation, None
        if invocation is None:
            return
        if exc is not None:
            _fail(invocation, exc, self._system)
            return
        try:
            invocation.stop()
        except Exception as failure:
            report_internal_error(f"genai.{self._system}_stop", failure)

    def __enter__(self) -> Any:
        self._begin()
        return self._invocation

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._end(exc)

    async def __aenter__(self) -> Any:
        return self.__enter__()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._end(exc)

    def _copy(self) -> _Scope:
        # A decorated function may run concurrently (threads, tasks): one scope object per call.
        clone = type(self).__new__(type(self))
        clone.__dict__.update(self.__dict__)
        clone._invocation = None
        clone._agent_token = None
        return clone

    def __call__(self, func: Callable[P, R]) -> Callable[P, R]:
        if inspect.iscoroutinefunction(func):

            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                with self._copy():
                    return await func(*args, **kwargs)

            return cast(Callable[P, R], functools.wraps(func)(async_wrapper))

        def sync_wrapper(*args: Any, **kwargs: Any) -> Any:
            with self._copy():
                return func(*args, **kwargs)

        return cast(Callable[P, R], functools.wraps(func)(sync_wrapper))


class traced_agent(_Scope):
    """One agent turn: an ``invoke_agent {name}`` INTERNAL span (decorator or ``with traced_agent(...)``).

    Chat, tool and outbound-call spans inside become its children; traced tools run inside carry
    ``gen_ai.agent.name``. ``conversation_id`` defaults to the one from ``request_context``.
    """

    _system = "agent"

    def __init__(
        self,
        name: str,
        *,
        model: str | None = None,
        conversation_id: str | None = None,
        telemetry: GenAITelemetry | None = None,
    ) -> None:
        super().__init__(name, conversation_id, telemetry)
        self.model = model

    def _start(self, telemetry: GenAITelemetry, conversation_id: str | None) -> Any:
        return telemetry.handler.invoke_local_agent(
            agent_name=self.name, request_model=self.model, conversation_id=conversation_id
        )

    def __enter__(self) -> Any:
        invocation = super().__enter__()
        self._agent_token = _agent_name.set(self.name)
        return invocation

    def _end(self, exc: BaseException | None) -> None:
        if self._agent_token is not None:
            _agent_name.reset(self._agent_token)
            self._agent_token = None
        super()._end(exc)


class traced_workflow(_Scope):
    """A multi-step job (e.g. the Celery task that triages an inbound message): ``invoke_workflow {name}``."""

    _system = "workflow"

    def __init__(
        self, name: str, *, conversation_id: str | None = None, telemetry: GenAITelemetry | None = None
    ) -> None:
        super().__init__(name, conversation_id, telemetry)

    def _start(self, telemetry: GenAITelemetry, conversation_id: str | None) -> Any:
        return telemetry.handler.workflow(self.name, conversation_id=conversation_id)
