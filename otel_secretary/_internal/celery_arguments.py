"""Celery task arguments, masked under their parameter names before Celery or Sentry report them.

A task's positional arguments travel without names: ``remind.delay(email, phone, "Ada Lovelace")``.
Celery logs them (``argsrepr``: the "received" and "raised unexpected" records carry them in their
``data``), and Sentry's Celery integration attaches them to error events (``extra["celery-job"]``). An
e-mail or a phone is masked there by its content, but a bare person's name is only recognisable by
*where* it is, and a positional argument has no key. The task's signature has one: ``attendee``,
``customer``, ``organizer`` … So the arguments are masked as a mapping from parameter name to value,
the way the masker treats any structured place.

* ``before_task_publish`` (the producer, our process): Celery's own privacy mechanism, the message's
  ``argsrepr``/``kwargsrepr`` headers (documented for hiding sensitive arguments in logs), is rewritten
  from the masked arguments, so every worker, Flower and event consumer sees the masked form;
* the worker's own "received", "succeeded" and "raised" records (a producer without otel-secretary
  sent the raw ``argsrepr``): a filter on Celery's worker loggers re-masks it the same way;
* Sentry's ``celery-job`` extra (the worker): its ``args`` list becomes ``{parameter: value}`` before
  our scrubber masks the event.

A task that is not registered here, or whose signature cannot be read, keeps positional masking.
"""

from __future__ import annotations

import ast
import inspect
import logging
from collections.abc import Sequence
from typing import Any

from otel_secretary._internal.self_monitoring import report_internal_error

_MAX_CACHED = 4096
_parameters: dict[str, tuple[str, ...] | None] = {}


def parameter_names(task_name: str) -> tuple[str, ...] | None:
    """Positional parameter names of a registered task (``*args`` collects under its own name)."""
    if task_name in _parameters:
        return _parameters[task_name]
    names: tuple[str, ...] | None = None
    try:
        from celery import current_app

        task = current_app.tasks.get(task_name)
        if task is not None:
            names = tuple(
                p.name
                for p in inspect.signature(task.run).parameters.values()
                if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)
            )
    except Exception:
        names = None  # an unreadable signature: arguments stay positional (still masked by content)
    if len(_parameters) >= _MAX_CACHED:
        _parameters.clear()
    _parameters[task_name] = names
    return names


def named(task_name: str, args: Sequence[Any]) -> dict[str, Any] | None:
    """``{parameter: value}`` for positional ``args``; values beyond the signature go under ``args``."""
    names = parameter_names(task_name)
    if not names:
        return None
    result: dict[str, Any] = {}
    for index, value in enumerate(args):
        key = names[index] if index < len(names) else f"args~{index}"
        result[key] = value
    return result


def _masker() -> Any:
    from otel_secretary import _configure, pii

    masker = getattr(_configure._handle, "masker", None)
    return masker if isinstance(masker, pii.Masker) else pii.Masker()


_REPR_MAXSIZE = 1024  # Celery's argsrepr_maxsize / kwargsrepr_maxsize


def _cut(value: Any) -> Any:
    """What saferepr would show of a long string anyway: masking more costs time and shows nothing."""
    return value[: _REPR_MAXSIZE + 1] if isinstance(value, str) else value


def masked_reprs(task_name: str, args: Sequence[Any], kwargs: dict[str, Any]) -> tuple[str, str]:
    """``argsrepr`` and ``kwargsrepr`` of masked arguments (positional ones under their names)."""
    from celery.utils.saferepr import saferepr

    from otel_secretary.pii._keyed import mask_key, mask_keyed

    masker = _masker()
    names = parameter_names(task_name) or ()
    masked_args = [
        mask_keyed(masker, names[i] if i < len(names) else "args", _cut(value), None)
        for i, value in enumerate(args)
    ]
    masked_kwargs = {
        mask_key(masker, str(key), None): mask_keyed(masker, str(key), _cut(value), None)
        for key, value in kwargs.items()
    }
    shown = masked_args if isinstance(args, list) else tuple(masked_args)
    return saferepr(shown, _REPR_MAXSIZE), saferepr(masked_kwargs, _REPR_MAXSIZE)


def _on_publish(sender: Any = None, body: Any = None, headers: Any = None, **_: Any) -> None:
    try:
        if not isinstance(headers, dict) or "argsrepr" not in headers:
            return  # protocol 1 (no repr headers): nothing Celery would log from the message
        if not (isinstance(body, tuple | list) and len(body) >= 2):
            return
        args, kwargs = body[0], body[1]
        if not isinstance(args, list | tuple) or not isinstance(kwargs, dict):
            return
        from celery.utils.saferepr import saferepr

        task_name = str(headers.get("task") or sender or "")
        args_repr, kwargs_repr = masked_reprs(task_name, args, kwargs)
        # An app that wrote its own argsrepr (Celery's documented way to hide arguments) keeps it,
        # masked as text; only Celery's default repr of the raw arguments is replaced.
        for header, raw, ours in (("argsrepr", args, args_repr), ("kwargsrepr", kwargs, kwargs_repr)):
            given = headers.get(header)
            if given is None or given == saferepr(raw, _REPR_MAXSIZE):
                headers[header] = ours
            elif isinstance(given, str):
                headers[header] = _masker().mask_text(given)
    except Exception as exc:
        if isinstance(headers, dict):
            headers["argsrepr"], headers["kwargsrepr"] = "<redacted>", "<redacted>"  # fail closed
        report_internal_error("celery.argsrepr", exc)


def remask_repr(task_name: str, text: str) -> str:
    """A repr Celery is about to log (``argsrepr`` from any producer), its values masked under their
    parameter names; unchanged when it is not a literal (a truncated or object repr: content masking
    still applies to it downstream)."""
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return text
    if isinstance(value, list | tuple):
        return masked_reprs(task_name, value, {})[0]
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return masked_reprs(task_name, (), value)[1]
    return text


class TaskArgumentsFilter(logging.Filter):
    """On Celery's worker loggers: the "received", "succeeded" and "raised" records carry the message's
    ``argsrepr``, which a producer without otel-secretary made from the raw arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            seen: set[int] = set()
            for context in (getattr(record, "data", None), record.args):
                if not isinstance(context, dict) or id(context) in seen:
                    continue
                seen.add(id(context))
                name = str(context.get("name") or "")
                for key in ("args", "kwargs"):
                    if isinstance(context.get(key), str):
                        context[key] = remask_repr(name, context[key])
        except Exception as exc:
            report_internal_error("celery.log_arguments", exc)
        return True


_WORKER_LOGGERS = ("celery.worker.strategy", "celery.app.trace", "celery.worker.request")
_FILTER = TaskArgumentsFilter()


def connect() -> None:
    from celery.signals import before_task_publish

    before_task_publish.connect(_on_publish, weak=False, dispatch_uid="otel_secretary.argsrepr")
    for name in _WORKER_LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)


def name_sentry_celery_job(event: Any) -> dict[str, Any] | None:
    """Sentry's ``extra["celery-job"]["args"]`` as ``{parameter: value}``, so names are masked by key;
    returns that mapping (the caller lets the masker learn from it), or None."""
    extra = event.get("extra") if isinstance(event, dict) else None
    job = extra.get("celery-job") if isinstance(extra, dict) else None
    if not isinstance(job, dict) or not isinstance(job.get("args"), list | tuple):
        return None
    mapped = named(str(job.get("task_name") or ""), job["args"])
    if mapped is not None:
        job["args"] = mapped
    return mapped
