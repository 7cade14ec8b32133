"""Set-up never takes the host app down, and a bad setting says exactly what is wrong.

Each case runs the real ``opentelemetry-instrument flask`` launcher as a subprocess.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import urllib.request
from pathlib import Path

import pytest

from tests.support.example_app import instrumented_flask
from tests.support.processes import Proc, clean_env, free_port

pytestmark = pytest.mark.integration


def serve(tmp_path: Path, **env: str) -> Proc:
    port = free_port()
    proc = Proc(
        "flask",
        instrumented_flask(port),
        clean_env(
            OTEL_SERVICE_NAME="ai-secretary",
            OTEL_SECRETARY_PROMETHEUS_PORT="0",
            AI_SECRETARY_DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
            **env,
        ),
        tmp_path,
    )
    try:
        proc.wait_http(f"http://127.0.0.1:{port}/health", 45)
    except AssertionError:
        proc.stop()
        raise
    return proc


def test_invalid_setting_is_named_and_the_app_still_serves(tmp_path: Path) -> None:
    proc = serve(tmp_path, OTEL_SECRETARY_PII_MODE="hashed", OTEL_SECRETARY_DATA_DIR=str(tmp_path / "t"))
    proc.stop()
    log = proc.log.read_text()
    assert "otel-secretary: telemetry disabled: OTEL_SECRETARY_PII_MODE='hashed' is not valid" in log
    assert "one of placeholder, pseudonym" in log
    assert not (tmp_path / "t" / "traces.jsonl").exists()


def test_an_exception_inside_our_configurator_does_not_stop_the_app(tmp_path: Path) -> None:
    # An exporter name no package provides makes upstream's exporter lookup raise inside build().
    # (A file where the data folder should be no longer fails set-up: the files' exporters count and
    # report what they cannot write, and the other signals keep working; tests/foundation/test_disk*.)
    proc = serve(tmp_path, OTEL_TRACES_EXPORTER="no_such_exporter_installed")
    proc.stop()
    log = proc.log.read_text()
    assert "otel-secretary: configure failed; the app continues (logged once)" in log


def test_a_file_where_the_data_folder_should_be_is_said_in_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the data folder should be")
    proc = serve(tmp_path, OTEL_SECRETARY_DATA_DIR=str(blocker))
    try:
        # The request log lines are log records; their batch fails within the 5 s batch delay.
        proc.wait_until(lambda: "logs dropped (unwritable)" in proc.log.read_text(), 60, "the one line")
    finally:
        proc.stop()
    log = proc.log.read_text()
    assert "configure failed" not in log and "Traceback" not in log, log
    assert f"cannot write {blocker}/logs.jsonl" in log, log


def test_configure_is_idempotent_and_exports_through_the_masked_pipeline(tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import otel_secretary
        from opentelemetry import trace
        first = otel_secretary.configure()
        second = otel_secretary.configure(pii_mode="pseudonym", pii_key="ignored-second-time")
        assert first is second, "configure() must return the first handle"
        with trace.get_tracer("t").start_as_current_span("checkout") as span:
            span.set_attribute("customer.note", "reach me at jane.doe@example.com")
        first.force_flush()
        first.shutdown()
        print("ok")
        """
    )
    env = clean_env(
        OTEL_SERVICE_NAME="svc",
        OTEL_SECRETARY_SERVICE_VERSION="2026.11.27-abc123",
        OTEL_SECRETARY_DATA_DIR=str(tmp_path),
        OTEL_SECRETARY_PROMETHEUS_PORT="0",
    )
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "Overriding of current TracerProvider" not in result.stderr
    exported = (tmp_path / "traces.jsonl").read_text()
    assert '"checkout"' in exported
    assert "jane.doe@example.com" not in exported
    assert "reach me at" in exported, "only the PII substring is masked"
    assert '"service.version","value":{"stringValue":"2026.11.27-abc123"}' in exported


def test_the_app_serves_on_when_the_collector_is_down(tmp_path: Path) -> None:
    """Exporters failing (connection refused) must cost the app nothing but the dropped telemetry."""
    dead = f"http://127.0.0.1:{free_port()}"
    proc = serve(tmp_path, OTEL_EXPORTER_OTLP_ENDPOINT=dead, OTEL_BSP_SCHEDULE_DELAY="50")
    port = int(proc.popen.args[-2])  # type: ignore[index]
    try:
        for _ in range(30):
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/messages", timeout=5) as response:
                assert response.status == 200
        assert proc.popen.poll() is None
    finally:
        proc.stop()


def test_configure_raises_a_bad_pattern_file_with_its_line(tmp_path: Path) -> None:
    patterns = tmp_path / "patterns.yaml"
    patterns.write_text("patterns:\n  - name: employee_id\n    kind: employee_id\n    pattern: '(a+)+$'\n")
    script = textwrap.dedent(
        """
        import otel_secretary
        from opentelemetry import trace
        try:
            otel_secretary.configure()
        except ValueError as exc:
            print("raised:", exc)
        # Nothing was half-configured: the global provider is still the proxy.
        print("provider:", type(trace.get_tracer_provider()).__name__)
        """
    )
    env = clean_env(
        OTEL_SECRETARY_DATA_DIR=str(tmp_path),
        OTEL_SECRETARY_PROMETHEUS_PORT="0",
        OTEL_SECRETARY_PII_EXTRA_PATTERNS=str(patterns),
    )
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert f"raised: {patterns}:2: pattern 'employee_id'" in result.stdout
    assert "provider: ProxyTracerProvider" in result.stdout


def test_a_bad_rule_file_is_named_and_only_the_rules_are_off(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "broken.yaml").write_text(
        "rules:\n  - name: Broken\n    kind: error_rate\n    threshold: lots\n"
    )
    data = tmp_path / "t"
    proc = serve(tmp_path, OTEL_SECRETARY_RULES_DIR=str(rules), OTEL_SECRETARY_DATA_DIR=str(data))
    port = int(proc.popen.args[-2])  # type: ignore[index]
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/messages", timeout=5) as response:
        assert response.status == 200
    proc.stop()
    log = proc.log.read_text()
    assert "otel-secretary: in-process alert rules disabled:" in log and "broken.yaml:2:" in log
    assert (data / "traces.jsonl").exists(), "tracing stays on when only the rules are bad"
