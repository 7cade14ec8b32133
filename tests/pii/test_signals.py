"""Every signal goes through the masker: spans, log records, metrics (push and /metrics), stdlib
logging and Sentry events; and each wrapper fails closed."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
from typing import Any

import pytest
import sentry_sdk.utils
from opentelemetry import trace
from opentelemetry.sdk._logs import LoggingHandler
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    ConsoleMetricExporter,
    InMemoryMetricReader,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, Status, StatusCode
from prometheus_client import CollectorRegistry, generate_latest

from otel_secretary.pii import (
    FAILED,
    REDACTED,
    Masker,
    MaskingLoggingFilter,
    MaskingMetricExporter,
    MaskingPrometheusMetricReader,
    MaskingSpanExporter,
    sentry_scrubber,
)
from tests.pii.conftest import counter_values
from tests.support.otel_harness import Harness, masked_logs, masked_spans
from tests.support.processes import REPO

EMAIL = "jane.doe@example.com"
CARD = "4242 4242 4242 4242"
PHONE = "+1 555 010 0199"
KEY = "sk_live_51FAKEfakeFAKE0123456789"


def _tracer(masker: Masker, resource: Resource | None = None) -> tuple[trace.Tracer, InMemorySpanExporter]:
    provider, exporter = masked_spans(masker, resource=resource)
    return provider.get_tracer("test"), exporter


def test_every_part_of_a_span_is_masked(masker: Masker, metric_reader: InMemoryMetricReader) -> None:
    tracer, exporter = _tracer(masker, Resource.create({"service.owner": EMAIL}))
    with tracer.start_as_current_span("linked") as other:
        pass
    link = Link(other.get_span_context(), {"reason": f"reply to {EMAIL}"})
    with tracer.start_as_current_span(f"send to {EMAIL}", links=[link]) as span:
        span.set_attribute(
            "url.full", f"https://api.example.com/pay?card={CARD.replace(' ', '')}&token=t0ken123"
        )
        span.set_attribute("db.statement", f"SELECT * FROM users WHERE email = '{EMAIL}'")
        span.set_attribute(
            "gen_ai.input.messages", json.dumps([{"role": "user", "content": f"call {PHONE}"}])
        )
        span.set_attribute("http.request.header.authorization", ("Bearer abc.def.ghi",))
        span.set_attribute("http.route", "/api/v1/users/{id}")
        span.add_event(f"mail {EMAIL}", {"card": CARD})
        try:
            raise ValueError(f"card {CARD} declined for {EMAIL}")
        except ValueError as exc:
            span.record_exception(exc)
            span.set_status(Status(StatusCode.ERROR, f"declined: {EMAIL}"))

    exported = exporter.get_finished_spans()[-1]
    blob = exported.to_json()
    for secret in (EMAIL, CARD, "4242424242424242", PHONE, "t0ken123", "abc.def.ghi"):
        assert secret not in blob
    assert exported.name == "send to <email>"
    assert exported.attributes is not None
    assert exported.attributes["http.route"] == "/api/v1/users/{id}"
    assert exported.attributes["http.request.header.authorization"] == (REDACTED,)
    assert exported.status.description == "declined: <email>"
    assert exported.status.status_code is StatusCode.ERROR
    assert exported.events[0].name == "mail <email>"
    assert "card <card> declined for <email>" in str(exported.events[1].attributes)
    assert exported.links[0].attributes == {"reason": "reply to <email>"}
    assert exported.resource.attributes["service.owner"] == "<email>"
    assert exported.context == span.get_span_context()
    assert exported.attributes["app.redaction.kinds"] == ("card", "email", "phone", "secret")
    assert exported.attributes["app.redaction.count"] >= 9

    counts = counter_values(metric_reader, "otel_secretary.pii.redactions")
    assert counts[(("kind", "email"), ("signal", "traces"))] >= 5
    assert all(dict(labels).keys() == {"kind", "signal"} for labels in counts)


def test_scope_attributes_are_masked(masker: Masker) -> None:
    provider, exporter = masked_spans(masker)
    tracer = provider.get_tracer("lib", attributes={"maintainer": EMAIL, "tier": "gold"})
    with tracer.start_as_current_span("op"):
        pass
    scope = exporter.get_finished_spans()[0].instrumentation_scope
    assert scope is not None and scope.name == "lib"
    assert dict(scope.attributes) == {"maintainer": "<email>", "tier": "gold"}


def test_pii_free_span_gets_no_summary(masker: Masker) -> None:
    tracer, exporter = _tracer(masker)
    with tracer.start_as_current_span("GET /health") as span:
        span.set_attribute("http.response.status_code", 200)
    exported = exporter.get_finished_spans()[0]
    assert dict(exported.attributes or {}) == {"http.response.status_code": 200}


class _BrokenMasker(Masker):
    """Masking raises for any value containing 'boom': the value must be dropped, not exported."""

    def _scan(self, text: str) -> tuple[str, tuple[str, ...]]:
        if "boom" in text:
            raise RuntimeError("detector bug")
        return super()._scan(text)


def test_span_value_that_cannot_be_masked_is_dropped(
    otel: Harness, metric_reader: InMemoryMetricReader
) -> None:
    masker = _BrokenMasker(meter_provider=otel.meter_provider)
    tracer, exporter = _tracer(masker)
    with tracer.start_as_current_span("work") as span:
        span.set_attribute("note", f"boom {EMAIL}")
        span.set_attribute("other", f"mail {EMAIL}")
    exported = exporter.get_finished_spans()[0]
    assert exported.attributes is not None
    assert exported.attributes["note"] == FAILED
    assert exported.attributes["other"] == "mail <email>"
    assert exported.attributes["app.redaction.failures"] == 1
    assert counter_values(metric_reader, "otel_secretary.pii.failures") == {(("signal", "traces"),): 1}


def test_span_that_cannot_be_copied_is_not_exported(
    masker: Masker, metric_reader: InMemoryMetricReader
) -> None:
    class Unreadable(ReadableSpan):
        @property
        def events(self) -> Any:
            raise RuntimeError("corrupt span")

    exporter = InMemorySpanExporter()
    wrapper = MaskingSpanExporter(exporter, masker)
    good = ReadableSpan(name=f"to {EMAIL}")
    wrapper.export([Unreadable(name=f"to {EMAIL}"), good])
    assert [span.name for span in exporter.get_finished_spans()] == ["to <email>"]
    assert counter_values(metric_reader, "otel_secretary.pii.failures") == {(("signal", "traces"),): 1}


def test_log_records_are_masked(masker: Masker) -> None:
    provider, exporter = masked_logs(masker)
    logger = logging.getLogger("tests.pii.otel-logs")
    logger.propagate = False
    handler = LoggingHandler(logger_provider=provider)
    logger.addHandler(handler)
    try:
        logger.warning("payment for %s failed", EMAIL, extra={"customer.phone": PHONE, "api_key": KEY})
        try:
            raise RuntimeError(f"card {CARD} rejected")
        except RuntimeError:
            logger.exception("charge failed")
        provider.get_logger("direct").emit(body={"to": EMAIL, "nested": [f"call {PHONE}"]})
    finally:
        logger.removeHandler(handler)
    records = exporter.get_finished_logs()
    blob = "".join(record.to_json() for record in records)
    for secret in (EMAIL, CARD, PHONE, KEY):
        assert secret not in blob
    first = records[0].log_record
    assert first.body == "payment for <email> failed"
    assert first.attributes is not None and first.attributes["api_key"] == REDACTED
    assert "card <card> rejected" in str(records[1].log_record.attributes)
    assert records[2].log_record.body == {"to": "<email>", "nested": ("call <phone>",)}


def test_log_record_keeps_its_dropped_attribute_count(masker: Masker) -> None:
    from opentelemetry.sdk._logs import LogRecordLimits

    provider, exporter = masked_logs(masker, limits=LogRecordLimits(max_attributes=1))
    logger = provider.get_logger("limits")
    with pytest.warns(UserWarning):
        logger.emit(body="x", attributes={"a": EMAIL, "b": "y", "c": "z"})
    (record,) = exporter.get_finished_logs()
    assert record.dropped_attributes == 2


def _meter(masker: Masker) -> tuple[MeterProvider, io.StringIO, PeriodicExportingMetricReader]:
    out = io.StringIO()
    reader = PeriodicExportingMetricReader(
        MaskingMetricExporter(
            ConsoleMetricExporter(out=out, formatter=lambda data: data.to_json(indent=None) + "\n"), masker
        ),
        export_interval_millis=3_600_000,
    )
    return MeterProvider(metric_readers=[reader]), out, reader


def test_push_metrics_never_carry_pii_labels_and_masked_series_merge(masker: Masker) -> None:
    provider, out, reader = _meter(masker)
    counter = provider.get_meter("test").create_counter("emails.sent")
    counter.add(2, {"recipient": "a@example.com", "url.full": "https://x.example.com/u/1", "status": "ok"})
    counter.add(3, {"recipient": "b@example.com", "url.full": "https://x.example.com/u/2", "status": "ok"})
    counter.add(1, {"recipient": "c@example.com", "url.full": "https://x.example.com/u/3", "status": "error"})
    reader.force_flush()
    provider.shutdown()
    exported = json.loads(out.getvalue().splitlines()[0])
    points = next(
        metric["data"]["data_points"]
        for scope in exported["resource_metrics"][0]["scope_metrics"]
        for metric in scope["metrics"]
        if metric["name"] == "emails.sent"
    )
    assert "example.com" not in out.getvalue()
    by_status = {point["attributes"]["status"]: point for point in points}
    assert by_status["ok"]["value"] == 5
    assert by_status["ok"]["attributes"] == {"recipient": "<email>", "url.full": REDACTED, "status": "ok"}
    assert by_status["error"]["value"] == 1


def test_push_metric_exporter_keeps_delegate_preferences(masker: Masker) -> None:
    delegate = ConsoleMetricExporter(out=io.StringIO())
    wrapper = MaskingMetricExporter(delegate, masker)
    assert wrapper._preferred_temporality == delegate._preferred_temporality
    assert wrapper._preferred_aggregation == delegate._preferred_aggregation


def test_prometheus_endpoint_serves_masked_labels(masker: Masker) -> None:
    registry = CollectorRegistry()
    reader = MaskingPrometheusMetricReader(masker, registry=registry)
    provider = MeterProvider(metric_readers=[reader], resource=Resource.create({"service.name": "svc"}))
    histogram = provider.get_meter("test").create_histogram("task.duration", unit="s")
    histogram.record(0.5, {"enduser.id": "u-123", "task": "summarize", "error": f"mail {EMAIL}"})
    histogram.record(1.5, {"enduser.id": "u-456", "task": "summarize", "error": f"mail {EMAIL}"})
    text = generate_latest(registry).decode()
    provider.shutdown()
    assert EMAIL not in text and "u-123" not in text and "u-456" not in text
    count_lines = [line for line in text.splitlines() if line.startswith("task_duration_seconds_count")]
    assert len(count_lines) == 1 and count_lines[0].endswith(" 2.0")
    assert 'error="mail <email>"' in count_lines[0]


def test_logging_filter_masks_message_args_exception_and_extra(masker: Masker) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(message)s|%(customer)s"))
    handler.addFilter(MaskingLoggingFilter(masker))
    logger = logging.getLogger("tests.pii.stdlib")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    logger.addHandler(handler)
    try:
        logger.info("booked for %s", EMAIL, extra={"customer": f"phone {PHONE}"})
        try:
            raise KeyError(f"no card {CARD}")
        except KeyError:
            logger.error("lookup failed for %s", EMAIL, exc_info=True, extra={"customer": "-"})
    finally:
        logger.removeHandler(handler)
    output = stream.getvalue()
    for secret in (EMAIL, CARD, PHONE):
        assert secret not in output
    assert "booked for <email>|phone <phone>" in output
    assert "no card <card>" in output and "Traceback" in output


def test_sentry_event_from_a_real_exception_is_scrubbed(masker: Masker) -> None:
    def charge(customer_email: str, card_number: str) -> None:
        api_key = KEY  # noqa: F841 - a frame local Sentry would capture
        raise ValueError(f"card {card_number} declined for {customer_email}")

    try:
        charge(EMAIL, CARD)
    except ValueError as exc:
        # Default options capture frame locals and source context, as a real client would.
        event, hint = sentry_sdk.utils.event_from_exception(exc)
    event["request"] = {
        "url": f"https://app.example.com/pay?token=t0ken123&email={EMAIL}",
        "headers": {
            "Authorization": "Bearer abc.def.ghi",
            "Cookie": "session=s3ss10n",
            "Accept": "text/html",
        },
    }
    event["breadcrumbs"] = {
        "values": [{"category": "http", "message": f"POST to {EMAIL}", "data": {"phone": PHONE}}]
    }
    event["event_id"] = "9f2c1b7e8a0d4c3fb1e2d3c4b5a69788"
    assert KEY in json.dumps(event, default=str)  # the raw event really carries the frame's locals
    scrubbed = sentry_scrubber(masker)(event, hint)
    blob = json.dumps(scrubbed, default=str)
    for secret in (EMAIL, CARD, KEY, PHONE, "t0ken123", "abc.def.ghi", "s3ss10n"):
        assert secret not in blob
    assert scrubbed["exception"]["values"][0]["value"] == "card <card> declined for <email>"
    assert scrubbed["request"]["headers"]["Accept"] == "text/html"
    assert scrubbed["event_id"] == "9f2c1b7e8a0d4c3fb1e2d3c4b5a69788"
    breadcrumb = sentry_scrubber(masker)({"category": "query", "message": f"SELECT {EMAIL}"}, None)
    assert breadcrumb == {"category": "query", "message": "SELECT <email>"}


def test_sentry_event_that_cannot_be_scrubbed_is_dropped(
    otel: Harness, metric_reader: InMemoryMetricReader
) -> None:
    masker = _BrokenMasker(meter_provider=otel.meter_provider)

    class Hostile(dict[str, Any]):
        def items(self) -> Any:
            raise RuntimeError("cannot iterate")

    assert sentry_scrubber(masker)({"extra": Hostile(a=1)}, None) is None
    assert counter_values(metric_reader, "otel_secretary.pii.failures") == {(("signal", "sentry"),): 1}


@pytest.mark.parametrize("signal_value", [f"to {EMAIL}", [f"to {EMAIL}"]])
def test_sentry_lists_stay_lists(masker: Masker, signal_value: Any) -> None:
    scrubbed = sentry_scrubber(masker)({"extra": {"v": signal_value}}, None)
    assert type(scrubbed["extra"]["v"]) is type(signal_value)


def test_maskers_built_before_and_after_the_global_provider_is_set_count_into_one_series() -> None:
    # The pipeline builds its masker before it sets the SDK meter provider (through the API's proxy);
    # a masker built later (Sentry's, a CLI's) must count into the same reported series, not a second
    # registration of the name that the SDK would ignore. Run apart: the global provider is set once.
    script = """
from opentelemetry import metrics
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from otel_secretary.pii import Masker, Redactions
from tests.support.otel_harness import scoped_points

early = Masker()
reader = InMemoryMetricReader()
metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
late = Masker()
for masker, signal in ((early, "traces"), (late, "logs"), (early, "logs")):
    redactions = Redactions()
    masker.mask_value("note", "mail jane.doe@example.com", redactions)
    masker.record(redactions, signal)
points = scoped_points(reader, "otel_secretary.pii.redactions")
print(sorted((point.attributes["signal"], point.value) for _, point in points))
"""
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.strip() == "[('logs', 2), ('traces', 1)]", done.stderr
