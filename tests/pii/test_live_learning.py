"""A request's log lines are masked with the names its spans carry, though they are exported first.

The SDK exports log records every second and spans every five: the lines a request writes leave while its
span is open. LiveNameLearning teaches the masker a span's names when the span ends, and the names of
spans still open when their trace's logs are exported.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import set_span_in_context

from otel_secretary.pii import LiveNameLearning, Masker
from otel_secretary.pii import _live_learning as live_module
from tests.support.otel_harness import masked_logs, masked_spans

# No cue marks the name here: only what the trace taught the masker can.
LINE = "Priya accepted the 3pm slot"


@pytest.fixture
def logger() -> Iterator[logging.Logger]:
    logger = logging.getLogger("tests.pii.live_learning")
    logger.propagate = False
    yield logger
    for handler in list(logger.handlers):
        logger.removeHandler(handler)


def _pipeline(
    logger: logging.Logger, live: bool
) -> tuple[TracerProvider, LoggerProvider, InMemoryLogRecordExporter]:
    masker = Masker(meter_provider=MeterProvider())
    tracer_provider, _spans = masked_spans(masker, batch=True)
    if live:
        tracer_provider.add_span_processor(LiveNameLearning(masker))
    logger_provider, logs = masked_logs(masker, batch=True)
    logger.addHandler(LoggingHandler(logger_provider=logger_provider))
    return tracer_provider, logger_provider, logs


def _bodies(logs: InMemoryLogRecordExporter) -> list[object]:
    return [record.log_record.body for record in logs.get_finished_logs()]


@pytest.mark.parametrize("live", [False, True], ids=["exporter-only", "live"])
def test_a_log_exported_while_its_span_is_open_is_masked_with_the_spans_names(
    logger: logging.Logger, live: bool
) -> None:
    tracer_provider, logger_provider, logs = _pipeline(logger, live)
    tracer = tracer_provider.get_tracer("t")
    with tracer.start_as_current_span("POST /invites") as request:
        request.set_attribute("calendar.attendee.display_name", "Priya Natarajan")
        with tracer.start_as_current_span("draft invite"):
            logger.warning(LINE)
        logger_provider.force_flush()  # the log tick comes while the request is still open
    # Without live learning the line left raw: the span that names Priya was not exported yet.
    assert _bodies(logs) == (["<name> accepted the 3pm slot"] if live else [LINE])


def test_an_ended_span_teaches_its_names_before_its_batch_is_exported(logger: logging.Logger) -> None:
    tracer_provider, logger_provider, logs = _pipeline(logger, live=True)
    tracer = tracer_provider.get_tracer("t")
    with tracer.start_as_current_span("calendar.events.insert") as span:
        span.set_attribute("calendar.organizer.email", "okafor@example.com")
        logger.warning("Okafor moved the meeting")
    # The span batch has not gone out (five-second delay); the log tick comes first.
    logger_provider.force_flush()
    assert _bodies(logs) == ["<name> moved the meeting"]


def test_another_trace_keeps_the_word(logger: logging.Logger) -> None:
    tracer_provider, logger_provider, logs = _pipeline(logger, live=True)
    tracer = tracer_provider.get_tracer("t")
    with tracer.start_as_current_span("POST /invites") as request:
        request.set_attribute("calendar.attendee.display_name", "Priya Natarajan")
    with tracer.start_as_current_span("GET /health") as other:
        assert other.get_span_context().trace_id != request.get_span_context().trace_id
        logger.warning(LINE)
    logger_provider.force_flush()
    assert _bodies(logs) == [LINE]


def test_open_spans_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(live_module, "MAX_TRACES", 3)
    monkeypatch.setattr(live_module, "MAX_SPANS_PER_TRACE", 2)
    masker = Masker(meter_provider=MeterProvider())
    learning = LiveNameLearning(masker)
    provider = TracerProvider()
    provider.add_span_processor(learning)
    tracer = provider.get_tracer("t")
    # Spans never ended (an abandoned generator's): the oldest traces are forgotten.
    roots = [tracer.start_span(f"root {n}") for n in range(10)]
    children = [tracer.start_span(f"child {n}", context=set_span_in_context(roots[-1])) for n in range(5)]
    open_spans = learning._open
    assert len(open_spans) == 3
    assert roots[-1].get_span_context().trace_id in open_spans
    assert len(open_spans[roots[-1].get_span_context().trace_id]) == 2
    for span in [*roots, *children]:
        span.end()
    assert len(learning._open) == 0


def test_the_console_line_of_an_open_span_is_masked_and_each_span_is_read_once_per_change(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from otel_secretary.pii import MaskingLoggingFilter

    masker = Masker(meter_provider=MeterProvider())
    provider = TracerProvider()
    provider.add_span_processor(LiveNameLearning(masker))
    console = MaskingLoggingFilter(masker)
    reads: list[int] = []
    learn = masker.learn
    monkeypatch.setattr(
        masker, "learn", lambda trace_id, attributes: (reads.append(1), learn(trace_id, attributes))
    )

    def line() -> str:
        record = logging.LogRecord("app", logging.INFO, __file__, 1, LINE, None, None)
        console.filter(record)
        return record.getMessage()

    with provider.get_tracer("t").start_as_current_span("POST /invites") as request:
        request.set_attribute("calendar.attendee.display_name", "Priya Natarajan")
        assert line() == "<name> accepted the 3pm slot"
        assert line() == "<name> accepted the 3pm slot"
        assert len(reads) == 1  # the span had not changed: not read again
        request.set_attribute("calendar.organizer.email", "okafor@example.com")
        line()
        assert len(reads) == 2


def test_the_sdks_own_warning_under_a_span_lock_does_not_wait_for_that_lock() -> None:
    """The SDK warns "Attributes dict is full" while holding the span's attribute lock; the console
    filter learns from that open span then, and must not wait for that lock (this thread holds it)."""
    import threading

    from opentelemetry.sdk.trace import SpanLimits

    from otel_secretary.pii import MaskingLoggingFilter

    masker = Masker(meter_provider=MeterProvider())
    provider = TracerProvider(span_limits=SpanLimits(max_span_attributes=2))
    provider.add_span_processor(LiveNameLearning(masker))
    console = io.StringIO()
    handler = logging.StreamHandler(console)  # a NullHandler would not run its filters
    handler.addFilter(MaskingLoggingFilter(masker))
    sdk_logger = logging.getLogger("opentelemetry.attributes")
    sdk_logger.addHandler(handler)

    def overfill() -> None:
        with provider.get_tracer("t").start_as_current_span("huge") as span:
            span.set_attribute("calendar.attendee.display_name", "Priya Natarajan")
            for n in range(5):
                span.set_attribute(f"extra.{n}", n)
            logging.getLogger("opentelemetry.attributes").warning("Priya asked twice")

    worker = threading.Thread(target=overfill, daemon=True)
    try:
        worker.start()
        worker.join(timeout=20)
    finally:
        sdk_logger.removeHandler(handler)
    assert not worker.is_alive(), "the span's attribute lock was waited for by its own thread"
    lines = console.getvalue().splitlines()
    assert sum("Attributes dict is full" in line for line in lines) >= 1
    # The name was read from the open span before it was dropped from it (the dict holds 2 of 6).
    assert "<name> asked twice" in lines and "Priya" not in console.getvalue()


def test_the_sdk_still_stores_a_spans_attributes_where_they_are_read_without_its_lock() -> None:
    """Open spans are read through the SDK's private storage (see ``_learn_open``); if an SDK upgrade
    moves it, live learning would silently stop: this fails first."""
    span = TracerProvider().get_tracer("t").start_span("open")
    span.set_attribute("calendar.attendee.display_name", "Priya Natarajan")
    storage = span._attributes._dict  # type: ignore[attr-defined]
    assert type(storage) is dict and storage["calendar.attendee.display_name"] == "Priya Natarajan"
    span.end()


@pytest.mark.parametrize("held", ["open spans", "name memory"])
def test_a_child_forked_while_another_thread_held_a_lock_still_starts_and_ends_spans(held: str) -> None:
    """gunicorn and Celery prefork workers fork while the export thread may be learning: the child's
    copy of a held lock would never be released, and every span start or end in it would hang."""
    from tests.support.forking import fork_while_held

    masker = Masker(meter_provider=MeterProvider())
    learning = LiveNameLearning(masker)
    provider = TracerProvider()
    provider.add_span_processor(learning)
    lock = learning._lock if held == "open spans" else masker.names._lock

    def one_span() -> bool:  # in the child: one span with a name, started and ended
        with provider.get_tracer("t").start_as_current_span("child") as span:
            span.set_attribute("calendar.attendee.display_name", "Priya Natarajan")
        return True

    assert fork_while_held(lock, one_span) == 0, f"the forked child hung on the {held} lock"
