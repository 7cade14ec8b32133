"""``@traced_external_call(system, operation)``: the Stripe/Calendar span and metric shape for any other
dependency (a CRM, an SMS gateway, an internal HTTP API) that has no instrumentation of its own.

One CLIENT span ``{system} {operation}`` per call; on failure ``error.type`` (the exception class),
status ERROR and the errors module's classification; ``otel_secretary.external.duration`` and
``otel_secretary.external.errors`` by system and operation. ``operation`` must be low-cardinality
(``send_sms``, ``GET /contacts/{id}``), never a value with ids in it.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import timeit
from collections.abc import Callable, Iterator
from typing import Any, ParamSpec, TypeVar, cast

from opentelemetry import trace
from opentelemetry.metrics import MeterProvider
from opentelemetry.semconv.attributes import error_attributes
from opentelemetry.trace import SpanKind, Status, StatusCode, TracerProvider

from otel_secretary.errors import record_exception

from ._common import ATTR_OPERATION, ATTR_SYSTEM, Instruments, make_tracer, qualified_name

P = ParamSpec("P")
R = TypeVar("R")


def traced_external_call(
    system: str,
    operation: str,
    *,
    tracer_provider: TracerProvider | None = None,
    meter_provider: MeterProvider | None = None,
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Trace a function (sync or async) that calls an external system."""
    if not isinstance(system, str) or not system or not isinstance(operation, str) or not operation:
        raise TypeError("@traced_external_call(system, operation) needs two non-empty strings")
    tracer = make_tracer(tracer_provider)
    instruments = Instruments(meter_provider)
    name = f"{system} {operation}"
    attributes = {ATTR_SYSTEM: system, ATTR_OPERATION: operation}

    def finish(span: trace.Span, started: float, exc: BaseException | None) -> None:
        error_type = None
        if exc is not None:
            error_type = qualified_name(exc)
            record_exception(span, exc, system=system)
            span.set_attribute(error_attributes.ERROR_TYPE, error_type)
            span.set_status(Status(StatusCode.ERROR, error_type))
        instruments.record_call(system, operation, timeit.default_timer() - started, error_type)

    @contextlib.contextmanager
    def call() -> Iterator[None]:
        """The span around one call, the same for sync and async functions (``with`` around ``await``)."""
        started = timeit.default_timer()
        with tracer.start_as_current_span(
            name, kind=SpanKind.CLIENT, attributes=attributes, record_exception=False,
            set_status_on_exception=False,
        ) as span:  # fmt: skip
            try:
                yield
            except BaseException as exc:
                finish(span, started, exc)
                raise
            finish(span, started, None)

    def decorate(func: Callable[P, R]) -> Callable[P, R]:
        if not callable(func):
            raise TypeError(f"@traced_external_call can only decorate a callable, not {type(func).__name__}")
        if inspect.isgeneratorfunction(func) or inspect.isasyncgenfunction(func):
            raise TypeError(
                "@traced_external_call does not support generators; decorate the function that calls out"
            )

        if inspect.iscoroutinefunction(func):

            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                with call():
                    return await func(*args, **kwargs)

            return cast(Callable[P, R], functools.wraps(func)(async_wrapper))

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with call():
                return func(*args, **kwargs)

        return cast(Callable[P, R], functools.wraps(func)(wrapper))

    return decorate
