"""The stdlib-logging bridge in one process, against the SDK's in-memory log exporter: one record per
log call whatever other OTel handlers exist, the app's logging configuration untouched, masking before
every handler, and no recursion from logging done while exporting."""

from __future__ import annotations

import io
import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import (
    InMemoryLogRecordExporter,
    LogRecordExporter,
    LogRecordExportResult,
    SimpleLogRecordProcessor,
)
from opentelemetry.sdk.metrics import MeterProvider

from otel_secretary.pii import Masker, MaskingLoggingFilter
from otel_secretary.sdk._logs import stdlib_bridge
from tests.apps.logging_records import read_log_records
from tests.support.processes import clean_env

EMAIL = "jane.doe@example.com"


@pytest.fixture
def root_restored() -> Iterator[logging.Logger]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    root.handlers = []
    try:
        yield root
    finally:
        stdlib_bridge.uninstall()
        root.handlers = handlers
        root.setLevel(level)


@pytest.fixture
def exported(root_restored: logging.Logger) -> Iterator[tuple[InMemoryLogRecordExporter, LoggerProvider]]:
    exporter = InMemoryLogRecordExporter()
    provider = LoggerProvider()
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    stdlib_bridge.install(provider, MaskingLoggingFilter(Masker(meter_provider=MeterProvider())))
    yield exporter, provider
    provider.shutdown()


def bodies(exporter: InMemoryLogRecordExporter) -> list[Any]:
    return [r.log_record.body for r in exporter.get_finished_logs()]


def test_one_record_per_call_with_upstream_handlers_on_root(
    exported: tuple[InMemoryLogRecordExporter, LoggerProvider], root_restored: logging.Logger
) -> None:
    from opentelemetry.instrumentation.logging.handler import _setup_logging_handler
    from opentelemetry.sdk._logs import LoggingHandler as SdkLoggingHandler

    exporter, provider = exported
    root_restored.setLevel(logging.INFO)
    upstream = _setup_logging_handler(provider)  # what opentelemetry-instrumentation-logging 0.66 adds
    root_restored.addHandler(SdkLoggingHandler(logger_provider=provider))  # the SDK's deprecated one
    logging.getLogger("app").info("once please")
    logging.getLogger("app").warning("and once more")
    assert bodies(exporter) == ["once please", "and once more"]
    # A handler sending to another provider is the app's own pipeline, not a duplicate: left alone.
    other_exporter = InMemoryLogRecordExporter()
    other = LoggerProvider()
    other.add_log_record_processor(SimpleLogRecordProcessor(other_exporter))
    root_restored.addHandler(type(upstream)(logger_provider=other))
    logging.getLogger("app").info("third")
    assert bodies(exporter)[-1] == "third" and bodies(other_exporter) == ["third"]


def test_the_apps_basic_config_takes_effect_and_is_masked(
    exported: tuple[InMemoryLogRecordExporter, LoggerProvider], root_restored: logging.Logger
) -> None:
    exporter, _ = exported
    stream = io.StringIO()
    # We added nothing to the app's logging tree (pytest's capture handlers are its own).
    ours = [h for h in root_restored.handlers if type(h).__module__.startswith(("opentelemetry", "otel_"))]
    assert ours == []
    root_restored.handlers = []  # an app starts with none; basicConfig then configures root
    logging.basicConfig(stream=stream, level=logging.INFO, format="app %(levelname)s %(message)s")
    logging.getLogger("app").info("booked for %s", EMAIL)
    assert stream.getvalue() == "app INFO booked for <email>\n"
    assert bodies(exporter) == ["booked for <email>"]


def test_a_hijacked_root_keeps_export_and_masking(
    exported: tuple[InMemoryLogRecordExporter, LoggerProvider], root_restored: logging.Logger
) -> None:
    exporter, _ = exported
    root_restored.setLevel(logging.INFO)
    root_restored.handlers = []  # what Celery's worker_hijack_root_logger does
    stream = io.StringIO()
    root_restored.addHandler(logging.StreamHandler(stream))
    try:
        raise ValueError(f"no mailbox for {EMAIL}")
    except ValueError:
        logging.getLogger("celery.app.trace").exception("Task raised unexpected")
    assert EMAIL not in stream.getvalue() and "no mailbox for <email>" in stream.getvalue()
    assert bodies(exporter) == ["Task raised unexpected"]


def test_logging_while_exporting_is_not_exported_again(root_restored: logging.Logger) -> None:
    class Chatty(LogRecordExporter):
        def __init__(self) -> None:
            self.batches = 0

        def export(self, batch: Any) -> LogRecordExportResult:
            self.batches += 1
            logging.getLogger("exporter").warning("exporting %d", len(batch))
            return LogRecordExportResult.SUCCESS

        def shutdown(self) -> None:
            pass

        def force_flush(self, timeout_millis: int = 30_000) -> bool:
            return True

    chatty = Chatty()
    provider = LoggerProvider()
    provider.add_log_record_processor(SimpleLogRecordProcessor(chatty))
    stdlib_bridge.install(provider, None)
    logging.getLogger("app").warning("one")
    assert chatty.batches == 1
    provider.shutdown()


def test_after_stop_exporting_records_still_reach_the_app_handlers(
    exported: tuple[InMemoryLogRecordExporter, LoggerProvider], root_restored: logging.Logger
) -> None:
    exporter, _ = exported
    stream = io.StringIO()
    root_restored.addHandler(logging.StreamHandler(stream))
    stdlib_bridge.stop_exporting()
    logging.getLogger("app").warning("late %s", EMAIL)
    assert stream.getvalue() == "late <email>\n" and bodies(exporter) == []


def test_interpreter_exit_flushes_without_a_traceback(tmp_path: Path) -> None:
    """``logging.shutdown`` flushes every handler ever made at exit; upstream's flush starts a thread,
    which Python 3.12+ refuses then ("can't create new thread at interpreter shutdown"). Ours, and an
    upstream handler the app put on root, must exit quietly on every supported Python."""
    script = tmp_path / "app.py"
    script.write_text(
        "import logging\n"
        "from opentelemetry.instrumentation.logging import LoggingInstrumentor\n"
        "import otel_secretary\n"
        "otel_secretary.configure()\n"
        "LoggingInstrumentor().instrument()\n"
        "logging.getLogger('app').warning('bye')\n"
        "print('ran')\n"
    )
    env = clean_env(
        OTEL_SERVICE_NAME="exit-app",
        OTEL_SECRETARY_PROMETHEUS_PORT="0",
        OTEL_SECRETARY_SYSTEM_METRICS="false",
    )
    done = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert (done.returncode, done.stdout) == (0, "ran\n"), done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    bodies = [r.body for r in read_log_records(tmp_path / ".otel-secretary" / "logs.jsonl")]
    assert bodies.count("bye") == 1, bodies
