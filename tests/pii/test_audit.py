"""The privacy audit: clean output passes, a value that bypassed the masker is found and never shown."""

from __future__ import annotations

from pathlib import Path

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from typer.testing import CliRunner

from otel_secretary.cli.pii import app
from otel_secretary.pii import Masker, MaskingSpanExporter
from otel_secretary.pii.audit import audit_files
from otel_secretary.sdk.trace.jsonl_exporter import JsonLinesSpanExporter
from otel_secretary.settings import load_settings

EMAIL = "jane.doe@example.com"
CARD = "4242 4242 4242 4242"


def _write(path: Path, masked: bool) -> None:
    exporter = JsonLinesSpanExporter(path, settings=load_settings({}))
    provider = TracerProvider()
    provider.add_span_processor(
        SimpleSpanProcessor(MaskingSpanExporter(exporter, Masker()) if masked else exporter)
    )
    with provider.get_tracer("t").start_as_current_span("charge customer") as span:
        span.set_attribute("customer.note", f"reach {EMAIL}, card {CARD}")
        span.add_event("retry", {"reason": "declined"})
    provider.shutdown()


def test_masked_output_passes_the_audit(tmp_path: Path) -> None:
    _write(tmp_path / "traces.jsonl", masked=True)
    report = audit_files([tmp_path], Masker())
    assert report.files == 1 and report.values > 5
    assert report.clean, report.findings


def test_a_value_that_bypassed_the_masker_is_found_by_kind_and_place(tmp_path: Path) -> None:
    _write(tmp_path / "traces.jsonl", masked=True)
    _write(tmp_path / "traces.jsonl", masked=False)  # e.g. a second exporter set up by hand
    report = audit_files([tmp_path], Masker())
    assert report.findings is not None and len(report.findings) == 1
    (finding,) = report.findings
    assert finding.line == 2
    assert finding.kinds == ("card", "email")
    assert "<charge customer>" in finding.where and finding.where.endswith(".customer.note")


def test_the_cli_exits_1_and_never_prints_the_value(tmp_path: Path) -> None:
    _write(tmp_path / "traces.jsonl", masked=False)
    result = CliRunner().invoke(app, ["audit", str(tmp_path)], env={"COLUMNS": "200"})
    assert result.exit_code == 1
    assert "customer.note" in result.output and "1 findings" in result.output
    assert EMAIL not in result.output and "4242" not in result.output


def test_the_cli_names_a_missing_path(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["audit", str(tmp_path / "nope")])
    assert result.exit_code == 2 and "no such file or folder" in result.output
