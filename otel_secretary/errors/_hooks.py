"""Flask and Celery hooks that record unhandled exceptions on the still-open server or task span.

Both frameworks announce failures through blinker-style signals that fire *before* the OTel
instrumentation ends its span: Flask's ``got_request_exception`` (any app, any sender) and
Celery's ``task_failure``. The instrumentations already add the ``exception`` event there, so the
hooks add only our attributes and request context, never a second event.

Request context is deliberately small: method, route template (never the raw path, which holds ids),
status, tenant id and pseudonymous user id from baggage. No bodies, no headers: the span is not the
place for them and the masker should not be the only line of defence.

Connecting is idempotent (one receiver per signal, however often :func:`connect` runs), and every
receiver swallows its own failures.
"""

from __future__ import annotations

import importlib.util
import threading
from typing import Any, Final

from opentelemetry import baggage, trace
from opentelemetry.util.types import AttributeValue

from otel_secretary._internal.self_monitoring import report_internal_error

from ._record import default_recorder

TENANT_KEY: Final = "app.tenant.id"
USER_KEY: Final = "enduser.id"

_lock = threading.Lock()
_connected: set[str] = set()


def baggage_context() -> dict[str, AttributeValue]:
    """Tenant and pseudonymous user from W3C baggage, never a client-supplied raw user id."""
    from otel_secretary.context import baggage_user_id
    from otel_secretary.sdk.trace.context_processor import valid_tenant

    found: dict[str, AttributeValue] = {}
    tenant = valid_tenant(baggage.get_baggage(TENANT_KEY))
    if tenant:
        found[TENANT_KEY] = tenant
    user = baggage_user_id()
    if user:
        found[USER_KEY] = user
    return found


def flask_request_context() -> dict[str, AttributeValue]:
    """Method, route template and status of the current Flask request; empty outside a request."""
    try:
        from flask import has_request_context, request
    except ImportError:
        return {}
    if not has_request_context():
        return {}
    context: dict[str, AttributeValue] = {"http.request.method": request.method}
    rule = request.url_rule
    if rule is not None:
        context["http.route"] = rule.rule
    return context


def _on_flask_exception(sender: Any, exception: BaseException | None = None, **_extra: Any) -> None:
    if exception is None:
        return
    try:
        context = flask_request_context()
        # got_request_exception fires only for unhandled exceptions, which Flask turns into a 500.
        context["http.response.status_code"] = 500
        context.update(baggage_context())
        default_recorder().record(trace.get_current_span(), exception, add_event=False, context=context)
    except Exception as failure:
        report_internal_error("errors.flask_hook", failure)


def _on_celery_failure(
    sender: Any = None, task_id: str | None = None, exception: BaseException | None = None, **_extra: Any
) -> None:
    if exception is None:
        return
    try:
        context: dict[str, AttributeValue] = dict(baggage_context())
        name = getattr(sender, "name", None)
        if isinstance(name, str):
            context["celery.task.name"] = name
        default_recorder().record(trace.get_current_span(), exception, add_event=False, context=context)
    except Exception as failure:
        report_internal_error("errors.celery_hook", failure)


# framework -> (module of its signal, signal name, our receiver); the receivers are defined above.
_SIGNALS: Final = {
    "flask": ("flask.signals", "got_request_exception", _on_flask_exception),
    "celery": ("celery.signals", "task_failure", _on_celery_failure),
}


def connect() -> list[str]:
    """Connect the hooks of the frameworks that are installed; returns which ones are connected."""
    with _lock:
        for framework, (module, signal, receiver) in _SIGNALS.items():
            if framework in _connected or importlib.util.find_spec(framework) is None:
                continue
            try:
                getattr(importlib.import_module(module), signal).connect(receiver, weak=False)
                _connected.add(framework)
            except Exception as failure:
                report_internal_error(f"errors.connect_{framework}", failure)
        return sorted(_connected)


def disconnect() -> None:
    """Undo :func:`connect` (tests and ``uninstall``)."""
    with _lock:
        for framework in _connected:
            module, signal, receiver = _SIGNALS[framework]
            getattr(importlib.import_module(module), signal).disconnect(receiver)
        _connected.clear()
