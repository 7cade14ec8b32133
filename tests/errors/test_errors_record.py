"""record_exception and the Flask/Celery hooks put the error on the open span and count it once."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from opentelemetry.instrumentation.flask import FlaskInstrumentor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

import otel_secretary.errors as errors
from otel_secretary.context import trusted_user_id
from otel_secretary.errors import ErrorRecorder, record_exception
from otel_secretary.pii import build_masker
from otel_secretary.settings import Settings

PII_MESSAGE = "charge for alice@example.com with card 4242 4242 4242 4242 failed"


class Telemetry:
    def __init__(self) -> None:
        self.spans = InMemorySpanExporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.spans))
        self.tracer = self.tracer_provider.get_tracer("test")
        self.reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.reader])

    def error_points(self) -> list[tuple[dict[str, Any], int]]:
        data = self.reader.get_metrics_data()
        points: list[tuple[dict[str, Any], int]] = []
        for resource in data.resource_metrics if data else []:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    if metric.name == "app.errors":
                        assert metric.unit == "{error}"
                        points += [(dict(p.attributes or {}), int(p.value)) for p in metric.data.data_points]  # type: ignore[union-attr]
        return points

    def finished(self, name: str) -> ReadableSpan:
        return next(s for s in self.spans.get_finished_spans() if s.name == name)


@pytest.fixture
def telemetry() -> Iterator[Telemetry]:
    t = Telemetry()
    yield t
    t.tracer_provider.shutdown()
    t.meter_provider.shutdown()


def _charge() -> None:
    raise ValueError(PII_MESSAGE)


def test_record_annotates_span_masks_event_and_counts(telemetry: Telemetry) -> None:
    recorder = ErrorRecorder(meter_provider=telemetry.meter_provider, masker=build_masker(Settings()))
    with telemetry.tracer.start_as_current_span(
        "charge", record_exception=False, set_status_on_exception=False
    ) as span:
        try:
            _charge()
        except ValueError as exc:
            info = recorder.record(span, exc, system="stripe")

    finished = telemetry.finished("charge")
    assert dict(finished.attributes or {}) == {
        "error.type": "ValueError",
        "app.error.type": "ValueError",
        "app.error.category": "internal",
        "app.error.severity": "high",
        "app.error.fingerprint": info.fingerprint,
        "app.error.system": "stripe",
    }
    assert finished.status.status_code is StatusCode.ERROR
    [event] = finished.events
    assert event.name == "exception"
    attributes = dict(event.attributes or {})
    assert attributes["exception.type"] == "ValueError"
    assert attributes["exception.message"] == "charge for <email> with card <card> failed"
    stack = str(attributes["exception.stacktrace"])
    assert "_charge" in stack and "alice@example.com" not in stack and "4242 4242" not in stack
    assert "alice" not in (finished.status.description or "")
    assert telemetry.error_points() == [
        (
            {
                "app.error.category": "internal",
                "app.error.severity": "high",
                "error.type": "ValueError",
                "app.error.system": "stripe",
            },
            1,
        )
    ]


def test_one_exception_on_two_spans_is_counted_once(telemetry: Telemetry) -> None:
    recorder = ErrorRecorder(meter_provider=telemetry.meter_provider)
    engine = sa.create_engine("sqlite://")
    with (
        telemetry.tracer.start_as_current_span("POST /api/v1/meetings") as server,
        telemetry.tracer.start_as_current_span("SELECT", record_exception=False) as client,
    ):
        try:
            with engine.connect() as conn:
                conn.execute(sa.text("SELECT * FROM meetings"))
        except sa.exc.OperationalError as exc:
            first = recorder.record(client, exc)
            second = recorder.record(server, exc, add_event=False)
    assert first == second
    assert telemetry.finished("SELECT").attributes["app.error.category"] == "database"  # type: ignore[index]
    assert (
        telemetry.finished("POST /api/v1/meetings").attributes["app.error.fingerprint"] == first.fingerprint
    )  # type: ignore[index]
    assert telemetry.finished("POST /api/v1/meetings").events == ()
    assert [value for _attrs, value in telemetry.error_points()] == [1]
    assert all("app.error.fingerprint" not in attrs for attrs, _ in telemetry.error_points())


def test_record_never_raises_and_tolerates_no_span(telemetry: Telemetry) -> None:
    class Unprintable(Exception):
        def __str__(self) -> str:
            raise RuntimeError("cannot print me")

    recorder = ErrorRecorder(meter_provider=telemetry.meter_provider)
    with telemetry.tracer.start_as_current_span("job") as span:
        info = recorder.record(span, Unprintable())
    assert info.category == "internal"
    assert recorder.record(None, KeyError("x")).category == "internal"
    # The module-level helper falls back to the current span, which here is the no-op span.
    assert record_exception(None, TimeoutError("slow")).category == "timeout"
    assert telemetry.finished("job").attributes["error.type"].endswith("Unprintable")  # type: ignore[index, union-attr]


@pytest.fixture
def installed(telemetry: Telemetry) -> Iterator[Telemetry]:
    settings = Settings(severity_overrides={"database": "critical"})
    masker = build_masker(settings)
    errors.install(settings, masker, meter_provider=telemetry.meter_provider)
    errors.install(settings, masker, meter_provider=telemetry.meter_provider)  # idempotent
    yield telemetry
    errors.uninstall()


def test_flask_hook_records_on_server_span_with_route_and_baggage(installed: Telemetry) -> None:
    app = Flask("hook_test")
    engine = sa.create_engine("sqlite://")

    @app.get("/api/v1/meetings/<int:meeting_id>")
    def get_meeting(meeting_id: int) -> str:
        with engine.connect() as conn:
            conn.execute(sa.text(f"SELECT * FROM meetings WHERE id = {meeting_id}"))
        return "never"

    FlaskInstrumentor().instrument_app(app, tracer_provider=installed.tracer_provider)
    try:
        response = app.test_client().get(
            "/api/v1/meetings/42",
            headers={
                "baggage": "app.tenant.id=tenant-7,enduser.id=5f0c2a9e1b7d4c3a",
                "Cookie": "session=secret-cookie",
            },
        )
    finally:
        FlaskInstrumentor().uninstrument_app(app)
    assert response.status_code == 500
    span = installed.spans.get_finished_spans()[-1]
    attributes = dict(span.attributes or {})
    assert attributes["app.error.category"] == "database"
    assert attributes["app.error.severity"] == "critical"  # from severity_overrides
    assert attributes["http.route"] == "/api/v1/meetings/<int:meeting_id>"
    assert attributes["app.tenant.id"] == "tenant-7"
    # A client-supplied user id is untrusted: it is recorded as its pseudonym, never raw.
    assert attributes["enduser.id"] == trusted_user_id("5f0c2a9e1b7d4c3a") != "5f0c2a9e1b7d4c3a"
    assert attributes["http.response.status_code"] == 500
    assert not any("cookie" in key.lower() for key in attributes)
    assert [e.name for e in span.events] == ["exception"]  # the instrumentation's one event, not two
    assert installed.error_points() == [
        (
            {
                "app.error.category": "database",
                "app.error.severity": "critical",
                "error.type": "sqlalchemy.exc.OperationalError",
            },
            1,
        )
    ]


def test_celery_hook_records_on_task_span(installed: Telemetry) -> None:
    from celery import Celery
    from opentelemetry.instrumentation.celery import CeleryInstrumentor

    app = Celery("hook_test", set_as_current=False)
    app.conf.task_always_eager = True

    @app.task(name="tasks.process_inbound_message")
    def process_inbound_message(message_id: int) -> None:
        raise TimeoutError(f"mailbox for message {message_id} did not answer")

    instrumentor = CeleryInstrumentor()
    if instrumentor.is_instrumented_by_opentelemetry:
        pytest.skip("Celery is instrumented globally by an earlier test; ours would not be the provider")
    instrumentor.instrument(tracer_provider=installed.tracer_provider)
    try:
        result = process_inbound_message.apply(args=(99,))
    finally:
        instrumentor.uninstrument()
    assert result.failed()
    span = next(s for s in installed.spans.get_finished_spans() if "process_inbound_message" in s.name)
    attributes = dict(span.attributes or {})
    assert attributes["app.error.category"] == "timeout"
    assert attributes["error.type"] == "TimeoutError"
    assert attributes["celery.task.name"] == "tasks.process_inbound_message"
    assert [value for _a, value in installed.error_points()] == [1]


def test_uninstall_disconnects_hooks(telemetry: Telemetry) -> None:
    errors.install(Settings(), None, meter_provider=telemetry.meter_provider)
    errors.uninstall()
    app = Flask("unhooked")

    @app.get("/boom")
    def boom() -> str:
        raise KeyError("x")

    assert app.test_client().get("/boom").status_code == 500
    assert telemetry.error_points() == []


def test_classify_uses_the_installed_overrides(telemetry: Telemetry) -> None:
    errors.install(
        Settings(severity_overrides={"timeout": "critical"}), None, meter_provider=telemetry.meter_provider
    )
    try:
        assert errors.classify(TimeoutError("slow")).severity == "critical"
        assert errors.classify(TimeoutError("slow"), overrides={}).severity == "medium"
    finally:
        errors.uninstall()
    assert errors.classify(TimeoutError("slow")).severity == "medium"
