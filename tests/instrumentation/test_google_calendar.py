"""Google Calendar through the real googleapiclient against the local Calendar stand-in."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from googleapiclient.errors import HttpError
from opentelemetry.semconv.attributes import error_attributes, http_attributes
from opentelemetry.trace import SpanKind, StatusCode

from otel_secretary.instrumentation._common import DURATION_METRIC, ERRORS_METRIC, hash_value
from otel_secretary.instrumentation.google_calendar import (
    GoogleCalendarInstrumentor,
    TracedHttpRequest,
    template_calendar_path,
    traced_request_builder,
)
from otel_secretary.testing.local_services import calendar_api
from tests.support.otel_harness import Harness

EVENT = {
    "summary": "Budget review with Alice",
    "attendees": [{"email": "alice@example.com"}],
    "start": {"dateTime": "2026-12-01T10:00:00Z"},
    "end": {"dateTime": "2026-12-01T11:00:00Z"},
}


@pytest.fixture(scope="module")
def fake_calendar() -> Iterator[calendar_api.FakeCalendar]:
    with calendar_api.start() as service:
        yield service


@pytest.fixture
def calendar(otel: Harness, fake_calendar: calendar_api.FakeCalendar) -> Any:
    fake_calendar.clear()
    builder = traced_request_builder(otel.tracer_provider, otel.meter_provider)
    return calendar_api.build_client(fake_calendar, requestBuilder=builder)


def _no_backoff(request: Any) -> Any:
    request._rand = lambda: 0.0  # googleapiclient's own test stub: no random sleep between retries
    return request


@pytest.mark.parametrize(
    ("path", "template", "calendar_id"),
    [
        (
            "/calendar/v3/calendars/alice%40example.com/events",
            "/calendar/v3/calendars/{calendarId}/events",
            "alice@example.com",
        ),
        (
            "/calendars/primary/events/abc123/instances",
            "/calendars/{calendarId}/events/{eventId}/instances",
            "primary",
        ),
        ("/calendar/v3/users/me/calendarList", "/calendar/v3/users/me/calendarList", None),
        (
            "/calendars/team%40example.org/acl/user%3Abob%40example.org",
            "/calendars/{calendarId}/acl/{ruleId}",
            "team@example.org",
        ),
    ],
    ids=["email-calendar", "instances", "calendar-list", "acl-rule"],
)
def test_calendar_paths_are_templated(path: str, template: str, calendar_id: str | None) -> None:
    assert template_calendar_path(path) == (template, calendar_id)


def test_span_per_api_method_without_personal_data(otel: Harness, calendar: Any) -> None:
    event = calendar.events().insert(calendarId="alice@example.com", body=EVENT).execute()
    calendar.events().get(calendarId="alice@example.com", eventId=event["id"]).execute()
    calendar.events().list(calendarId="primary").execute()

    (insert,) = otel.spans("calendar.events.insert")
    assert insert.kind is SpanKind.CLIENT and insert.status.status_code is StatusCode.UNSET
    assert insert.attributes["url.template"] == "/calendar/v3/calendars/{calendarId}/events"
    assert insert.attributes["otel_secretary.calendar.id"] == hash_value("alice@example.com")
    assert insert.attributes[http_attributes.HTTP_RESPONSE_STATUS_CODE] == 200
    (attempt,) = [s for s in otel.spans() if s.parent and s.parent.span_id == insert.context.span_id]
    assert attempt.name == "POST /calendar/v3/calendars/{calendarId}/events"
    (get,) = otel.spans("calendar.events.get")
    assert get.attributes["url.template"] == "/calendar/v3/calendars/{calendarId}/events/{eventId}"
    (listed,) = otel.spans("calendar.events.list")
    assert listed.attributes["otel_secretary.calendar.id"] == "primary"
    text = " ".join(f"{s.name} {dict(s.attributes)}" for s in otel.spans())
    assert "alice" not in text and "Budget" not in text and event["id"] not in text
    operations = {p.attributes["otel_secretary.external.operation"] for p in otel.points(DURATION_METRIC)}
    assert operations == {"calendar.events.insert", "calendar.events.get", "calendar.events.list"}


@pytest.mark.parametrize("faults", ["429", "403:rateLimitExceeded,500"], ids=["429", "403-then-500"])
def test_retries_inside_one_execute(
    faults: str, otel: Harness, calendar: Any, fake_calendar: calendar_api.FakeCalendar
) -> None:
    fake_calendar.fail(faults)
    _no_backoff(calendar.calendarList().list()).execute(num_retries=3)
    (span,) = otel.spans("calendar.calendarList.list")
    attempts = sorted(
        (s for s in otel.spans() if s.parent and s.parent.span_id == span.context.span_id),
        key=lambda s: s.start_time,
    )
    expected_statuses = [int(f.split(":")[0]) for f in faults.split(",")] + [200]
    assert [a.attributes[http_attributes.HTTP_RESPONSE_STATUS_CODE] for a in attempts] == expected_statuses
    assert [a.attributes.get(http_attributes.HTTP_REQUEST_RESEND_COUNT) for a in attempts][1:] == list(
        range(1, len(attempts))
    )
    assert span.status.status_code is StatusCode.UNSET
    assert span.attributes[http_attributes.HTTP_REQUEST_RESEND_COUNT] == len(attempts) - 1


@pytest.mark.parametrize(
    ("fault", "error_type"),
    [("403:rateLimitExceeded", "rateLimitExceeded"), ("403:userRateLimitExceeded", "userRateLimitExceeded"),
     ("429", "rateLimitExceeded"), ("500", "backendError")],
    ids=["403-rate", "403-user-rate", "429", "500"],
)  # fmt: skip
def test_quota_and_server_errors_become_error_type(
    fault: str, error_type: str, otel: Harness, calendar: Any, fake_calendar: calendar_api.FakeCalendar
) -> None:
    fake_calendar.fail(fault)
    with pytest.raises(HttpError):
        calendar.events().list(calendarId="primary").execute()
    (span,) = otel.spans("calendar.events.list")
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[error_attributes.ERROR_TYPE] == error_type
    assert span.attributes["gcp.error.reason"] == error_type
    (errors,) = otel.points(ERRORS_METRIC)
    assert errors.attributes["error.type"] == error_type
    assert errors.attributes["otel_secretary.external.system"] == "calendar"


def test_not_found(otel: Harness, calendar: Any) -> None:
    with pytest.raises(HttpError):
        calendar.events().get(calendarId="primary", eventId="missing0001").execute()
    (span,) = otel.spans("calendar.events.get")
    assert span.attributes[error_attributes.ERROR_TYPE] == "notFound"
    assert span.attributes[http_attributes.HTTP_RESPONSE_STATUS_CODE] == 404


def test_instrumentor_makes_traced_builder_the_default(
    otel: Harness, fake_calendar: calendar_api.FakeCalendar
) -> None:
    instrumentor = GoogleCalendarInstrumentor()
    instrumentor.instrument(tracer_provider=otel.tracer_provider, meter_provider=otel.meter_provider)
    try:
        calendar = calendar_api.build_client(fake_calendar)
        request = calendar.calendarList().list()
        assert isinstance(request, TracedHttpRequest)
        request.execute()
    finally:
        instrumentor.uninstrument()
    assert len(otel.spans("calendar.calendarList.list")) == 1
    untraced = calendar_api.build_client(fake_calendar).calendarList().list()
    assert not isinstance(untraced, TracedHttpRequest)
