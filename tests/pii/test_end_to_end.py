"""Acceptance: spans, events, exceptions and logs full of PII go through real providers into the
in-memory exporter and the JSON-lines default exporter; no PII substring survives anywhere."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor, InMemoryLogRecordExporter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from otel_secretary.pii import Masker, MaskingLogRecordExporter, MaskingSpanExporter
from otel_secretary.sdk._logs.jsonl_exporter import JsonLinesLogExporter
from otel_secretary.sdk.trace.jsonl_exporter import JsonLinesSpanExporter

PII = {
    "email": "jane.doe@example.com",
    "email2": "m.rossi+invoices@example.org",
    "card": "4242 4242 4242 4242",
    "card_compact": "5555555555554444",
    "phone": "+44 20 7946 0958",
    "iban": "DE89 3704 0044 0532 0130 00",
    "ssn": "123-45-6789",
    "ip": "203.0.113.254",
    "openai": "sk-proj-Zq3fakeFAKEfake0123456789abcdefABCDEF",
    "stripe": "sk_live_51FAKEfakeFAKE0123456789abcdef",
    "password": "S3cretPassw0rd",
    "bearer": "abcDEF123456ghiJKL",
}


def _emit(tracer_provider: TracerProvider, logger: logging.Logger) -> None:
    tracer = tracer_provider.get_tracer("e2e")
    with tracer.start_as_current_span(f"summarize mail from {PII['email']}") as span:
        span.set_attribute("url.full", f"https://db.example.com/u?token={PII['bearer']}&page=1")
        span.set_attribute(
            "db.statement", f"UPDATE users SET iban = '{PII['iban']}' WHERE ssn = '{PII['ssn']}'"
        )
        span.set_attribute(
            "gen_ai.input.messages",
            json.dumps(
                [{"role": "user", "content": f"pay with {PII['card_compact']} and call {PII['phone']}"}]
            ),
        )
        span.set_attribute("http.request.header.authorization", (f"Bearer {PII['bearer']}",))
        span.set_attribute("client.address", PII["ip"])
        span.add_event("llm.prompt", {"prompt": f"my key is {PII['openai']}"})
        try:
            raise ConnectionError(
                f"postgresql://app:{PII['password']}@db.internal failed for {PII['email2']}"
            )
        except ConnectionError as exc:
            span.record_exception(exc)
        logger.warning(
            "refund for %s on card %s", PII["email"], PII["card"], extra={"stripe_key": PII["stripe"]}
        )
        try:
            raise ValueError(f"IBAN {PII['iban']} rejected for {PII['ssn']}")
        except ValueError:
            logger.exception("payout failed")


def _assert_clean(text: str) -> None:
    leaked = {name: value for name, value in PII.items() if value in text}
    assert not leaked, leaked


def test_in_memory_and_json_lines_exporters_receive_no_pii(tmp_path: Path) -> None:
    masker = Masker(meter_provider=MeterProvider())
    resource = Resource.create({"service.name": "e2e", "deployment.owner": PII["email"]})
    memory_spans, memory_logs = InMemorySpanExporter(), InMemoryLogRecordExporter()
    traces_file, logs_file = tmp_path / "traces.jsonl", tmp_path / "logs.jsonl"

    tracer_provider = TracerProvider(resource=resource)
    for exporter in (memory_spans, JsonLinesSpanExporter(traces_file)):
        tracer_provider.add_span_processor(BatchSpanProcessor(MaskingSpanExporter(exporter, masker)))
    logger_provider = LoggerProvider(resource=resource)
    for log_exporter in (memory_logs, JsonLinesLogExporter(logs_file)):
        logger_provider.add_log_record_processor(
            BatchLogRecordProcessor(MaskingLogRecordExporter(log_exporter, masker))
        )
    logger = logging.getLogger("tests.pii.e2e")
    logger.propagate = False
    handler = LoggingHandler(logger_provider=logger_provider)
    logger.addHandler(handler)
    try:
        _emit(tracer_provider, logger)
    finally:
        logger.removeHandler(handler)
    tracer_provider.force_flush()
    logger_provider.force_flush()

    spans = memory_spans.get_finished_spans()
    logs = memory_logs.get_finished_logs()
    assert len(spans) == 1 and len(logs) == 2
    in_memory = "".join(span.to_json() for span in spans) + "".join(record.to_json() for record in logs)
    tracer_provider.shutdown()
    logger_provider.shutdown()
    files = traces_file.read_text() + logs_file.read_text()
    assert "summarize mail from <email>" in in_memory and "<card>" in files
    _assert_clean(in_memory)
    _assert_clean(files)


def test_configured_pipeline_writes_no_pii(tmp_path: Path) -> None:
    """Through ``otel_secretary.configure()`` in a fresh process: the real embedded default."""
    port = _free_port()
    script = textwrap.dedent(
        f"""
        import logging, sys, urllib.request
        sys.path.insert(0, {str(Path(__file__).resolve().parents[2])!r})
        logging.basicConfig(level=logging.INFO)  # a console handler, as most apps have
        import otel_secretary
        from opentelemetry import metrics, trace
        from tests.pii.test_end_to_end import PII, _emit
        handle = otel_secretary.configure()
        _emit(trace.get_tracer_provider(), logging.getLogger("app"))
        from opentelemetry._logs import get_logger_provider
        with trace.get_tracer("app").start_as_current_span("POST /invites") as request:
            request.set_attribute("calendar.attendee.display_name", "Priya Natarajan")
            logging.getLogger("app").warning("Priya accepted the 3pm slot")
            get_logger_provider().force_flush()  # the log tick comes while the request is open
        counter = metrics.get_meter("app").create_counter("refunds")
        counter.add(1, {{"customer": PII["email"], "url.full": "https://x.example.com/?t=" + PII["bearer"]}})
        print(urllib.request.urlopen("http://127.0.0.1:{port}/metrics", timeout=10).read().decode())
        handle.shutdown()
        """
    )
    env = {
        **os.environ,
        "OTEL_SECRETARY_DATA_DIR": str(tmp_path),
        "OTEL_SECRETARY_PROMETHEUS_PORT": str(port),
        "OTEL_SECRETARY_RULES_ENABLED": "false",
        "OTEL_SECRETARY_SYSTEM_METRICS": "false",
        "OTEL_SERVICE_NAME": "e2e",
    }
    for name in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_TRACES_EXPORTER", "OTEL_LOGS_EXPORTER", "SENTRY_DSN"):
        env.pop(name, None)
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    traces, logs = (tmp_path / "traces.jsonl").read_text(), (tmp_path / "logs.jsonl").read_text()
    assert "<email>" in traces and "<iban>" in logs
    assert 'customer="<email>"' in result.stdout  # /metrics served the masked label
    assert "refund for <email>" in result.stderr  # the console handler printed the masked message
    # The open request span's attendee masks the bare name in its line, on the console and exported.
    assert "<name> accepted the 3pm slot" in logs and "<name> accepted the 3pm slot" in result.stderr
    assert "Priya" not in logs + traces + result.stderr
    for output in (traces, logs, result.stdout, result.stderr):
        _assert_clean(output)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
