"""Issue 11 item 5: the shipped rules watch the service that is running, not only ``ai-secretary``."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import SpanKind, Status, StatusCode
from typer.testing import CliRunner

from otel_secretary.cli.rules import app
from otel_secretary.rules.embedded import EmbeddedRules
from otel_secretary.rules.spec import default_rules_dir
from otel_secretary.settings import load_settings

from .conftest import REPO


def test_shipped_rules_fire_for_a_service_called_flaskr(tmp_path: Path) -> None:
    """flaskr failing 80% of its requests raises the shipped HighErrorRate page in the embedded engine."""
    settings = load_settings({"OTEL_SERVICE_NAME": "flaskr", "OTEL_SECRETARY_DATA_DIR": str(tmp_path)})
    rules = EmbeddedRules.from_settings(settings)
    provider = TracerProvider(resource=Resource.create({"service.name": "flaskr"}))
    provider.add_span_processor(rules.span_processor)
    tracer = provider.get_tracer("flaskr")
    base = 29_000_000
    try:
        for minute in range(base, base + 15):
            for i in range(30):
                start = minute * 60_000_000_000 + i * 1_000_000
                span = tracer.start_span("GET /blog/create", kind=SpanKind.SERVER, start_time=start)
                if i % 5:  # four in five fail
                    span.set_status(Status(StatusCode.ERROR))
                span.end(end_time=start + 20_000_000)
            rules.evaluate_now((minute + 1) * 60)
        firing = {
            (a.alertname, a.labels.get("service_name"))
            for a in rules.engine.alerts.values()
            if a.state == "firing"
        }
        assert ("HighErrorRate", "flaskr") in firing
        assert ("ApiAvailabilityBudgetBurn", "flaskr") in firing
    finally:
        rules.shutdown()
        provider.shutdown()


def test_render_binds_rules_without_a_service_to_otel_service_name(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "generated"
    result = runner.invoke(
        app,
        ["render", "--specs", str(default_rules_dir()), "--out", str(out)],
        env={"OTEL_SERVICE_NAME": "flaskr"},
    )
    assert result.exit_code == 0, result.output
    text = (out / "collector" / "HighErrorRate.rules.yml").read_text(encoding="utf-8")
    assert 'service_name="flaskr"' in text and "ai-secretary" not in text
    sdk = (out / "sdk" / "HighErrorRate.rules.yml").read_text(encoding="utf-8")
    assert 'target_info{service_name="flaskr"}' in sdk
    # A spec that names its service keeps it; the committed files (no service) watch every service.
    committed = (REPO / "generated" / "collector" / "HighErrorRate.rules.yml").read_text()
    assert 'service_name="' not in committed and "sum by (service_name)" in committed
    if shutil.which("promtool") is None:
        pytest.skip("promtool (apt: prometheus) not installed")
    checked = runner.invoke(
        app,
        ["check", "--specs", str(default_rules_dir()), "--out", str(out)],
        env={"OTEL_SERVICE_NAME": "flaskr"},
    )
    assert checked.exit_code == 0, checked.output
