"""``configure()``: the programmatic door to the same pipeline the distro builds.

One code path, two doors: ``opentelemetry-instrument`` reaches :func:`_configure_once` through the
configurator entry point; application code through :func:`configure`. A once-flag makes the second
caller get the first caller's handle, because OpenTelemetry's global providers can be set only once.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
from typing import Any, Protocol

from otel_secretary._internal.self_monitoring import is_bad_input, report_internal_error, say_disabled
from otel_secretary.distro import apply_env_defaults
from otel_secretary.settings import Settings, SettingsError, load_settings

_logger = logging.getLogger("otel_secretary")
_lock = threading.Lock()
_handle: Handle | None = None


class Handle(Protocol):
    """What ``configure()`` returns."""

    def force_flush(self, timeout_millis: int = 30_000) -> bool: ...

    def shutdown(self) -> None: ...


class DisabledHandle:
    """Returned when ``OTEL_SECRETARY_ENABLED=false`` or set-up failed: the app runs on the no-op API."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True

    def shutdown(self) -> None:
        pass


def configure(*, instrument: bool = False, **overrides: Any) -> Handle:
    """Set up tracing, metrics and logs once; later calls return the first handle.

    Keyword ``overrides`` are settings attributes (``pii_mode="pseudonym"``…) and win over the
    environment. An invalid setting raises :class:`SettingsError` naming the variable: a developer
    calling this wants to know at once. ``instrument=True`` also loads every installed
    instrumentor, as ``opentelemetry-instrument`` would.
    """
    global _handle
    with _lock:
        if _handle is not None:
            return _handle
        settings = load_settings(**overrides)
        _handle = _build(settings, auto_instrumentation_version=None, strict=True)
    if instrument:
        _load_instrumentors()
    return _handle


def configure_from_auto_instrumentation(version: str | None) -> None:
    """The configurator's path: never raise into the launcher, but say clearly what was wrong."""
    global _handle
    with _lock:
        if _handle is not None:
            return
        try:
            settings = load_settings()
        except SettingsError as exc:
            # Upstream swallows configurator exceptions with a generic traceback; an operator
            # deserves one line naming the variable. The app keeps serving, uninstrumented.
            say_disabled("telemetry", exc)
            _handle = DisabledHandle(str(exc))
            return
        _handle = _build(settings, auto_instrumentation_version=version, strict=False)


def _build(settings: Settings, auto_instrumentation_version: str | None, strict: bool) -> Handle:
    """``strict`` (``configure()``): a bad user file raises; otherwise it is said on stderr and the
    app runs uninstrumented. Bad input is found before any global provider is set, so a corrected
    second ``configure()`` call still works."""
    if not settings.enabled:
        return DisabledHandle("OTEL_SECRETARY_ENABLED=false")
    apply_env_defaults(os.environ)
    try:
        from otel_secretary.pipeline import build

        pipeline = build(settings, auto_instrumentation_version=auto_instrumentation_version, strict=strict)
    except Exception as exc:
        if is_bad_input(exc):
            if strict:
                raise
            say_disabled("telemetry", exc)
            return DisabledHandle(str(exc))
        report_internal_error("configure", exc)
        return DisabledHandle(f"set-up failed: {type(exc).__name__}")
    _flush_on_signals()
    return pipeline


class _CurrentHandle:
    """Whatever handle is current when a signal or a pool child's exit asks for a flush."""

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        handle = _handle
        return True if handle is None else handle.force_flush(timeout_millis)

    def shutdown(self) -> None:
        handle = _handle
        if handle is not None:
            handle.shutdown()


#: Flushes the pipeline configured in this process (none yet: a no-op).
current_handle = _CurrentHandle()
_atexit_registered = False


def _flush_on_signals() -> None:
    """SIGTERM/SIGINT flush within ``FLUSH_SECONDS`` before the app's (or Python's) own behaviour, and
    a normal exit shuts the pipeline down within ``FLUSH_SECONDS`` too (the SDK's own ``atexit``
    shutdown waits up to 30 s per provider on a dead collector: 43 s measured after Ctrl-C)."""
    try:
        from otel_secretary._internal.flush_on_exit import install_signal_flush, shutdown_within

        install_signal_flush(current_handle)
        global _atexit_registered
        if not _atexit_registered:
            atexit.register(shutdown_within, current_handle)
            _atexit_registered = True
    except Exception as exc:
        report_internal_error("flush_on_exit.signals", exc)


def _load_instrumentors() -> None:
    """What ``opentelemetry-instrument`` loads, with the same arguments and the same quiet skipping of
    instrumentors whose library is absent (see ``SecretaryDistro.load_instrumentor``)."""
    from opentelemetry.instrumentation.dependencies import (
        get_dependency_conflicts,
        get_dist_dependency_conflicts,
    )
    from opentelemetry.util._importlib_metadata import entry_points

    from otel_secretary.distro import after_instrumentor_loaded, instrumentor_kwargs

    disabled = {n.strip() for n in os.environ.get("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", "").split(",")}
    for ep in entry_points(group="opentelemetry_instrumentor"):
        if ep.name in disabled or "*" in disabled:
            continue
        try:
            if ep.dist is not None and get_dist_dependency_conflicts(ep.dist):
                continue
            instrumentor = ep.load()()
            if get_dependency_conflicts(instrumentor.instrumentation_dependencies()):
                continue
            if not instrumentor.is_instrumented_by_opentelemetry:
                instrumentor.instrument(skip_dep_check=True, **instrumentor_kwargs(ep.name))
                after_instrumentor_loaded(ep.name)
        except ImportError:
            continue
        except Exception as exc:
            report_internal_error(f"instrumentor.{ep.name}", exc)


def _reset_for_tests() -> None:
    """Forget the handle (globals stay set); tests use this with OTel's own reset helpers."""
    global _handle
    _handle = None
