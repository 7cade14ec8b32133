"""The distro's defaults and the entry points ``opentelemetry-instrument`` looks for."""

from __future__ import annotations

from importlib.metadata import entry_points

import pytest

from otel_secretary.distro import SecretaryConfigurator, SecretaryDistro, apply_env_defaults


@pytest.mark.parametrize(
    ("group", "name", "target"),
    [
        ("opentelemetry_distro", "secretary", SecretaryDistro),
        ("opentelemetry_configurator", "secretary", SecretaryConfigurator),
    ],
)
def test_entry_points_load_our_classes(group: str, name: str, target: type) -> None:
    (ep,) = entry_points(group=group, name=name)
    assert ep.load() is target


def test_embedded_default_without_a_collector() -> None:
    env: dict[str, str] = {}
    apply_env_defaults(env)
    assert env["OTEL_TRACES_EXPORTER"] == "secretary_jsonl"
    assert env["OTEL_METRICS_EXPORTER"] == "prometheus"
    assert env["OTEL_LOGS_EXPORTER"] == "secretary_jsonl"
    assert env["OTEL_EXPORTER_OTLP_PROTOCOL"] == "http/protobuf"


def test_otlp_everywhere_when_a_collector_endpoint_is_set() -> None:
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}
    apply_env_defaults(env)
    assert (env["OTEL_TRACES_EXPORTER"], env["OTEL_METRICS_EXPORTER"], env["OTEL_LOGS_EXPORTER"]) == (
        "otlp",
        "otlp",
        "otlp",
    )


def test_the_users_own_values_win() -> None:
    env = {"OTEL_TRACES_EXPORTER": "console", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}
    apply_env_defaults(env)
    assert env["OTEL_TRACES_EXPORTER"] == "console"
    assert env["OTEL_EXPORTER_OTLP_PROTOCOL"] == "grpc"


def test_our_exporter_names_are_registered() -> None:
    for group in ("opentelemetry_traces_exporter", "opentelemetry_logs_exporter"):
        (ep,) = entry_points(group=group, name="secretary_jsonl")
        assert ep.load().__module__.startswith("otel_secretary.sdk")


class BrokenInstrumentor:
    """Stands in for a third-party instrumentor with a bug (the loader calls ``.instrument``)."""

    def instrument(self, **kwargs: object) -> None:
        raise RuntimeError("instrumentor bug")


def test_a_broken_instrumentor_is_counted_not_raised() -> None:
    from importlib.metadata import EntryPoint

    from otel_secretary._internal.self_monitoring import internal_error_counts

    ep = EntryPoint("broken_thing", f"{__name__}:BrokenInstrumentor", "opentelemetry_instrumentor")
    before = internal_error_counts().get("instrumentor.broken_thing", 0)
    SecretaryDistro().load_instrumentor(ep, skip_dep_check=True)
    assert internal_error_counts()["instrumentor.broken_thing"] == before + 1


def _system_metric_names(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> set[str]:
    from opentelemetry.instrumentation.system_metrics import SystemMetricsInstrumentor
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    for name, value in env.items():
        monkeypatch.setenv(name, value)
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    instrumentor = SystemMetricsInstrumentor()
    instrumentor.instrument(meter_provider=provider)
    try:
        data = reader.get_metrics_data()
        assert data is not None
        return {m.name for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics}
    finally:
        instrumentor.uninstrument()
        provider.shutdown()


def test_the_host_wide_socket_scan_is_off_by_default_and_can_be_turned_back_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """psutil.net_connections() walks every socket on the host, in every process, each interval."""
    env: dict[str, str] = {}
    apply_env_defaults(env)
    ours = _system_metric_names(monkeypatch, env)
    assert "system.network.connections" not in ours
    assert {"system.cpu.utilization", "system.memory.utilization", "process.cpu.utilization"} <= ours
    # The user's own setting wins, an empty one included (upstream: nothing excluded).
    mine = {"OTEL_PYTHON_SYSTEM_METRICS_EXCLUDED_METRICS": ""}
    apply_env_defaults(mine)
    assert "system.network.connections" in _system_metric_names(monkeypatch, mine)
