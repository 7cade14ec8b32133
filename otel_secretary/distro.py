"""The ``secretary`` distro and configurator that ``opentelemetry-instrument`` loads.

The distro only sets environment defaults, each for a stated reason, so every upstream knob keeps
working and an explicit user setting always wins. The configurator builds the providers through
:func:`otel_secretary.pipeline.build`, the same path ``configure()`` takes.
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping
from typing import Any

from opentelemetry.instrumentation.dependencies import DependencyConflictError
from opentelemetry.instrumentation.distro import BaseDistro  # type: ignore[attr-defined]  # upstream file is "type: ignore"
from opentelemetry.sdk._configuration import _BaseConfigurator


def apply_env_defaults(env: MutableMapping[str, str]) -> None:
    """Our defaults, as ``setdefault`` so the user's own environment wins."""
    collector = bool(env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))
    # http/protobuf, not upstream's grpc: no gRPC channel to break across fork(), and the
    # collector's 4318 receiver is the one proxies and load balancers handle well.
    env.setdefault("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
    # Embedded default: no collector → traces and logs to rotated local files, metrics on /metrics.
    env.setdefault("OTEL_TRACES_EXPORTER", "otlp" if collector else "secretary_jsonl")
    env.setdefault("OTEL_METRICS_EXPORTER", "otlp" if collector else "prometheus")
    env.setdefault("OTEL_LOGS_EXPORTER", "otlp" if collector else "secretary_jsonl")
    # Stable HTTP names (http.server.request.duration in seconds) are what current dashboards and
    # our rules use; the GenAI opt-in selects the latest GenAI semantic conventions.
    env.setdefault("OTEL_SEMCONV_STABILITY_OPT_IN", "http,gen_ai_latest_experimental")
    # The seed collected metrics every 15 s; upstream's 60 s makes a 5-minute alert window coarse.
    env.setdefault("OTEL_METRIC_EXPORT_INTERVAL", "15000")
    # Health probes would otherwise be most of the traces and skew latency percentiles.
    env.setdefault("OTEL_PYTHON_FLASK_EXCLUDED_URLS", "/health,/metrics")
    # Host and process identify which machine/worker a trace came from (service.instance.id is per process).
    env.setdefault("OTEL_EXPERIMENTAL_RESOURCE_DETECTORS", "host,process")
    # Not OTEL_PYTHON_LOG_CORRELATION: upstream answers it with logging.basicConfig(), which takes the
    # root logger before the app's own basicConfig() (a no-op then) and reformats its console output.
    # Trace ids still go on every record: see instrumentor_kwargs("logging").
    # Upstream keeps attribute values of any length: one 10 MB prompt made the SDK send a batch Jaeger
    # refuses (4 MiB per message), losing every span in it. 8 KiB per value and 128 attributes per span,
    # event and log record keep a span well under that (the collector applies the same cut).
    env.setdefault("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "8192")
    env.setdefault("OTEL_ATTRIBUTE_COUNT_LIMIT", "128")
    # With upstream's opentelemetry-distro also installed (a common `pip install`), its configurator can
    # come first in entry-point order and ours would be skipped ("Configuration of secretary not loaded").
    env.setdefault("OTEL_PYTHON_CONFIGURATOR", "secretary")
    # psutil.net_connections() reads every socket on the host (thousands in TIME_WAIT on a busy server), in
    # every process, each interval: ~0.25 s per collection at 100 req/s, about a third of the CPU we added
    # per request (benchmarks/bench_server.py). No rule or dashboard reads it; the Collector's hostmetrics
    # receiver reports connections once per host where an SRE wants them.
    env.setdefault("OTEL_PYTHON_SYSTEM_METRICS_EXCLUDED_METRICS", "system.network.connections")


def instrumentor_kwargs(name: str) -> dict[str, Any]:
    """What we pass an instrumentor besides upstream's defaults, for both loading paths.

    ``logging``: trace and span ids on stdlib log records (``%(otelTraceID)s`` in a format leads a log
    line to its trace), and no second exporting handler: our pipeline exports each record once
    (``otel_secretary.sdk._logs.stdlib_bridge``) without adding a handler to the app's loggers."""
    if name == "logging":
        return {"inject_trace_context": True, "enable_log_auto_instrumentation": False}
    return {}


class SecretaryDistro(BaseDistro):  # type: ignore[misc]
    """Entry point ``opentelemetry_distro = secretary``."""

    def _configure(self, **kwargs: Any) -> None:
        apply_env_defaults(os.environ)

    def load_instrumentor(self, entry_point: Any, **kwargs: Any) -> None:
        """Upstream re-raises an instrumentor's unexpected exception, which skips every instrumentor
        after it; one broken instrumentation must cost only itself.

        Our own instrumentors ship in this distribution, whose requirements cannot name the optional
        libraries they instrument (``openai``, ``stripe`` …), so upstream's per-distribution check
        passes them; we check each one's ``instrumentation_dependencies()`` instead and skip it,
        quietly (upstream logs that at debug level), when its library is absent."""
        if entry_point.name == "system_metrics" and not _system_metrics_enabled():
            return
        if str(getattr(entry_point, "value", "")).startswith("otel_secretary."):
            kwargs = {**kwargs, "skip_dep_check": False, "raise_exception_on_conflict": True}
        try:
            super().load_instrumentor(entry_point, **kwargs, **instrumentor_kwargs(entry_point.name))
        except (ImportError, DependencyConflictError):
            raise  # upstream's loader logs and skips these itself
        except Exception as exc:
            from otel_secretary._internal.self_monitoring import report_internal_error

            report_internal_error(f"instrumentor.{entry_point.name}", exc)
        else:
            after_instrumentor_loaded(entry_point.name)


def after_instrumentor_loaded(name: str) -> None:
    """Hooks that belong with an instrumentation once it is active (both loading paths)."""
    try:
        if name == "celery":
            from otel_secretary.celery import connect_worker_hooks

            connect_worker_hooks()
        elif name == "sqlite3":
            from otel_secretary._internal.sqlite3_shortcuts import trace_connection_shortcuts

            trace_connection_shortcuts()
    except Exception as exc:
        from otel_secretary._internal.self_monitoring import report_internal_error

        report_internal_error(f"instrumentor.{name}.hooks", exc)


def _system_metrics_enabled() -> bool:
    from otel_secretary.settings import SettingsError, load_settings

    try:
        return load_settings().system_metrics
    except SettingsError:
        return False  # the configurator has already said why telemetry is off


class SecretaryConfigurator(_BaseConfigurator):  # type: ignore[misc]
    """Entry point ``opentelemetry_configurator = secretary``."""

    def _configure(self, **kwargs: Any) -> None:
        from otel_secretary._configure import configure_from_auto_instrumentation

        configure_from_auto_instrumentation(kwargs.get("auto_instrumentation_version"))
