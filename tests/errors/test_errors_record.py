"""record_exception and the Flask/Celery hooks put the error on the open span and count it once."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from opentelemetry.instrumentation.flask import FlaskInstrumentor
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import StatusCode, Tracer

import otel_secretary.errors as errors
from otel_secretary.context import trusted_user_id
from otel_secretary.errors import ErrorRecorder, record_exception
from otel_secretary.pii import build_masker
from otel_secretary.settings import Settings
from tests.support.otel_harness import Harness

PII_MESSAGE = "charge for alice@example.com with card 4242 4242 4242 4242 failed"


def _tracer(otel: Harness) -> Tracer:
    return otel.tracer_provider.get_tracer("test")


def _error_points(otel: Harness) -> list[tuple[dict[str, Any], int]]:
    points: list[tuple[dict[str, Any], int]] = []
    for metric in otel.metric_streams("app.errors"):
        assert metric.unit == "{error}"
        points += [(dict(p.attributes or {}), int(p.value)) for p in metric.data.data_points]  # type: ignore[union-attr]
    return points


def _finished(otel: Harness, name: str) -> ReadableSpan:
    return next(s for s in otel.spans() if s.name == name)


def _charge() -> None:
    raise ValueError(PII_MESSAGE)


def test_record_annotates_span_masks_event_and_counts(otel: Harness) -> None:
    recorder = ErrorRecorder(meter_provider=otel.meter_provider, masker=build_masker(Settings()))
    with _tracer(otel).start_as_current_span(
        "charge", record_exception=False, set_status_on_exception=False
    ) as span:
        try:
            _charge()
        except ValueError as exc:
            info = recorder.record(span, exc, system="stripe")

    finished = _finished(otel, "charge")
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
    assert _error_points(otel) == [
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


def test_one_exception_on_two_spans_is_counted_once(otel: Harness) -> None:
    recorder = ErrorRecorder(meter_provider=otel.meter_provider)
    engine = sa.create_engine("sqlite://")
    with (
        _tracer(otel).start_as_current_span("POST /api/v1/meetings") as server,
        _tracer(otel).start_as_current_span("SELECT", record_exception=False) as client,
    ):
        try:
            with engine.connect() as conn:
                conn.execute(sa.text("SELECT * FROM meetings"))
        except sa.exc.OperationalError as exc:
            first = recorder.record(client, exc)
            second = recorder.record(server, exc, add_event=False)
    assert first == second
    assert _finished(otel, "SELECT").attributes["app.error.category"] == "database"  # type: ignore[index]
    assert _finished(otel, "POST /api/v1/meetings").attributes["app.error.fingerprint"] == first.fingerprint  # type: ignore[index]
    assert _finished(otel, "POST /api/v1/meetings").events == ()
    assert [value for _attrs, value in _error_points(otel)] == [1]
    assert all("app.error.fingerprint" not in attrs for attrs, _ in _error_points(otel))


def test_record_never_raises_and_tolerates_no_span(otel: Harness) -> None:
    class Unprintable(Exception):
        def __str__(self) -> str:
            raise RuntimeError("cannot print me")

    recorder = ErrorRecorder(meter_provider=otel.meter_provider)
    with _tracer(otel).start_as_current_span("job") as span:
        info = recorder.record(span, Unprintable())
    assert info.category == "internal"
    assert recorder.record(None, KeyError("x")).category == "internal"
    # The module-level helper falls back to the current span, which here is the no-op span.
    assert record_exception(None, TimeoutError("slow")).category == "timeout"
    assert _finished(otel, "job").attributes["error.type"].endswith("Unprintable")  # type: ignore[index, union-attr]


@pytest.fixture
def installed(otel: Harness) -> Iterator[Harness]:
    settings = Settings(severity_overrides={"database": "critical"})
    masker = build_masker(settings)
    errors.install(settings, masker, meter_provider=otel.meter_provider)
    errors.install(settings, masker, meter_provider=otel.meter_provider)  # idempotent
    yield otel
    errors.uninstall()


def test_flask_hook_records_on_server_span_with_route_and_baggage(installed: Harness) -> None:
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
    span = installed.spans()[-1]
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
    assert _error_points(installed) == [
        (
            {
                "app.error.category": "database",
                "app.error.severity": "critical",
                "error.type": "sqlalchemy.exc.OperationalError",
            },
            1,
        )
    ]


def test_celery_hook_records_on_task_span(installed: Harness) -> None:
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
    span = next(s for s in installed.spans() if "process_inbound_message" in s.name)
    attributes = dict(span.attributes or {})
    assert attributes["app.error.category"] == "timeout"
    assert attributes["error.type"] == "TimeoutError"
    assert attributes["celery.task.name"] == "tasks.process_inbound_message"
    assert [value for _a, value in _error_points(installed)] == [1]


def test_uninstall_disconnects_hooks(otel: Harness) -> None:
    errors.install(Settings(), None, meter_provider=otel.meter_provider)
    errors.uninstall()
    app = Flask("unhooked")

    @app.get("/boom")
    def boom() -> str:
        raise KeyError("x")

    assert app.test_client().get("/boom").status_code == 500
    assert _error_points(otel) == []


def test_classify_uses_the_installed_overrides(otel: Harness) -> None:
    errors.install(
        Settings(severity_overrides={"timeout": "critical"}), None, meter_provider=otel.meter_provider
    )
    try:
        assert errors.classify(TimeoutError("slow")).severity == "critical"
        assert errors.classify(TimeoutError("slow"), overrides={}).severity == "medium"
    finally:
        errors.uninstall()
    assert errors.classify(TimeoutError("slow")).severity == "medium"
