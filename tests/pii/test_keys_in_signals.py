"""Issue 10 item 2: personal data inside KEYS is masked, in every signal, at every depth.

Real SDK pipelines with our masking exporters in front of in-memory exporters: a span attribute key
``rsvp.<e-mail>``, a log call's ``extra=`` keys (flat and nested), a metric label key, and Sentry's
``extra`` / ``contexts`` / breadcrumb ``data`` keys.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from opentelemetry.sdk._logs import LoggingHandler
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    InMemoryMetricReader,
    MetricExporter,
    MetricExportResult,
    MetricsData,
)

from otel_secretary.pii import (
    Masker,
    MaskingMetricExporter,
    sentry_scrubber,
)
from tests.support.otel_harness import masked_logs, masked_spans

EMAIL = "jane.doe@example.com"
OTHER = "raj.patel@example.org"
PHONE = "+44 20 7946 0958"


def _dump(value: Any) -> str:
    return json.dumps(value, default=str)


def test_span_attribute_keys_are_masked_and_colliding_keys_keep_both_values(masker: Masker) -> None:
    provider, exporter = masked_spans(masker)
    with provider.get_tracer("t").start_as_current_span("invite") as span:
        span.set_attribute(f"rsvp:{EMAIL}", "accepted")
        span.set_attribute(f"rsvp:{OTHER}", "declined")
        span.set_attribute(f"callback {PHONE}", 1)
        span.set_attribute("http.route", "/api/v1/invites")
        span.add_event("reminder", {f"sent_to {EMAIL}": True})
    [exported] = exporter.get_finished_spans()
    attributes = dict(exported.attributes or {})
    assert attributes["rsvp:<email>"] in {"accepted", "declined"}
    assert {attributes["rsvp:<email>"], attributes["rsvp:<email>~2"]} == {"accepted", "declined"}
    assert attributes["callback <phone>"] == 1
    assert attributes["http.route"] == "/api/v1/invites"
    assert dict(exported.events[0].attributes or {}) == {"sent_to <email>": True}
    assert attributes["app.redaction.count"] == 4
    blob = _dump(attributes) + _dump(dict(exported.events[0].attributes or {}))
    assert EMAIL not in blob and OTHER not in blob and "7946" not in blob


def test_a_credential_key_with_an_email_in_it_still_redacts_its_value(masker: Masker) -> None:
    provider, exporter = masked_spans(masker)
    with provider.get_tracer("t").start_as_current_span("login") as span:
        span.set_attribute(f"password {EMAIL}", "hunter2-horse-battery")
    [exported] = exporter.get_finished_spans()
    assert dict(exported.attributes or {})["password <email>"] == "<redacted>"


def test_log_extra_keys_are_masked_flat_and_nested(masker: Masker) -> None:
    provider, exporter = masked_logs(masker)
    logger = logging.getLogger("tests.keys")
    logger.propagate = False
    handler = LoggingHandler(logger_provider=provider)
    logger.addHandler(handler)
    try:
        logger.warning(
            "rsvp received",
            extra={EMAIL: "accepted", "attendees": {OTHER: {"phone": PHONE}}, "ordinary": "value"},
        )
    finally:
        logger.removeHandler(handler)
    [record] = exporter.get_finished_logs()
    attributes = dict(record.log_record.attributes or {})
    blob = _dump(attributes)
    assert EMAIL not in blob and OTHER not in blob and "7946" not in blob
    assert attributes["<email>"] == "accepted"
    assert attributes["ordinary"] == "value"
    assert "<email>" in _dump(attributes["attendees"]) and "<phone>" in _dump(attributes["attendees"])


def test_log_body_mapping_keys_are_masked(masker: Masker) -> None:
    provider, exporter = masked_logs(masker)
    from opentelemetry._logs import LogRecord

    provider.get_logger("t").emit(LogRecord(body={"invitees": {EMAIL: "accepted"}, "count": 1}))
    [record] = exporter.get_finished_logs()
    assert record.log_record.body == {"invitees": {"<email>": "accepted"}, "count": 1}


def test_metric_label_keys_are_masked(masker: Masker) -> None:
    """The push exporter; the Prometheus reader masks through the same label code."""
    received: list[MetricsData] = []

    class Sink(MetricExporter):
        def export(
            self, metrics_data: MetricsData, timeout_millis: float = 0, **_: Any
        ) -> MetricExportResult:
            received.append(metrics_data)
            return MetricExportResult.SUCCESS

        def force_flush(self, timeout_millis: float = 0) -> bool:
            return True

        def shutdown(self, timeout_millis: float = 0, **_: Any) -> None:
            pass

    source = InMemoryMetricReader()
    counter = MeterProvider(metric_readers=[source]).get_meter("t").create_counter("invites")
    counter.add(1, {f"by {EMAIL}": "yes", "channel": "mail"})
    data = source.get_metrics_data()
    assert data is not None
    exporter = MaskingMetricExporter(Sink(), masker)
    exporter.export(data)
    [masked] = received
    point = masked.resource_metrics[0].scope_metrics[0].metrics[0].data.data_points[0]
    assert dict(point.attributes or {}) == {"by <email>": "yes", "channel": "mail"}


def test_sentry_extra_contexts_and_breadcrumb_data_keys_are_masked(masker: Masker) -> None:
    event = {
        "extra": {EMAIL: "accepted", "attendees": {OTHER: {"phone": PHONE}}},
        "contexts": {"rsvp": {f"reply.{EMAIL}": "yes"}},
        "breadcrumbs": {"values": [{"category": "rsvp", "data": {OTHER: "declined"}}]},
        "tags": {f"customer:{EMAIL}": "vip"},
    }
    scrubbed = sentry_scrubber(masker)(event, {})
    blob = _dump(scrubbed)
    assert EMAIL not in blob and OTHER not in blob and "7946" not in blob
    assert scrubbed["extra"]["<email>"] == "accepted"
    assert scrubbed["extra"]["attendees"] == {"<email>": {"phone": "<phone>"}}
    assert scrubbed["breadcrumbs"]["values"][0]["data"] == {"<email>": "declined"}
    assert scrubbed["tags"] == {"customer:<email>": "vip"}


def test_console_logging_masks_extra_keys_too(masker: Masker) -> None:
    """A JSON formatter prints every ``extra=`` key: the stdlib filter masks keys, flat and nested."""
    import io

    from otel_secretary.pii import MaskingLoggingFilter

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)

    class JsonExtras(logging.Formatter):
        def format(self, record: logging.LogRecord) -> str:
            standard = set(vars(logging.makeLogRecord({}))) | {"message"}
            extras = {k: v for k, v in vars(record).items() if k not in standard and not k.startswith("_")}
            return json.dumps({"msg": record.getMessage(), **extras}, default=str)

    handler.setFormatter(JsonExtras())
    handler.addFilter(MaskingLoggingFilter(masker))
    logger = logging.getLogger("tests.keys.console")
    logger.propagate = False
    logger.addHandler(handler)
    try:
        logger.warning("rsvp", extra={EMAIL: "accepted", "attendees": {OTHER: PHONE}})
    finally:
        logger.removeHandler(handler)
    line = json.loads(stream.getvalue())
    assert line == {"msg": "rsvp", "<email>": "accepted", "attendees": {"<email>": "<phone>"}}
