"""A tiny instrumented Flask app that reports to Sentry through otel-secretary (run as a subprocess).

Run by test_errors_sentry.py in its own process because ``sentry_sdk.init`` patches Flask, Celery,
logging and the HTTP clients process-wide; the rest of the test session must not inherit that.
Prints one JSON line: the server spans' ids and attributes, so the test can match Sentry events to them.
"""

from __future__ import annotations

import json
import logging
import sys

import sentry_sdk
from flask import Flask
from opentelemetry.instrumentation.flask import FlaskInstrumentor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import otel_secretary.errors as errors
from otel_secretary.pii import build_masker
from otel_secretary.settings import load_settings

CUSTOMERS = [
    ("alice@example.com", "4242 4242 4242 4242"),
    ("bob@example.org", "4000 0566 5566 5556"),
    ("carol@example.com", "5555 5555 5555 4444"),
    ("dave@example.org", "4242424242424242"),
    ("erin@example.com", "4000 0025 0000 3155"),
]


def main(dsn: str) -> None:
    settings = load_settings({"OTEL_SECRETARY_SENTRY_DSN": dsn, "OTEL_SECRETARY_SENTRY_REPEAT_WINDOW": "60"})
    spans = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    errors.install(settings, build_masker(settings))

    app = Flask("sentry_app")

    @app.post("/api/v1/subscriptions/<customer_id>")
    def subscribe(customer_id: str) -> str:
        email, card = CUSTOMERS[int(customer_id) % len(CUSTOMERS)]
        # Becomes a Sentry breadcrumb: before_breadcrumb must mask it.
        logging.getLogger("billing").warning("charging %s for customer %s", email, customer_id)
        raise ValueError(f"charge for {email} with card {card} failed (customer {customer_id})")

    FlaskInstrumentor().instrument_app(app, tracer_provider=provider)
    client = app.test_client()
    for number in range(len(CUSTOMERS)):
        client.post(
            f"/api/v1/subscriptions/{number}",
            data="card=4242424242424242&email=alice@example.com",
            headers={
                "baggage": "app.tenant.id=tenant-7,enduser.id=5f0c2a9e1b7d4c3a",
                "Authorization": "Bearer sk_live_fake_secret_token",
                "Cookie": "session=secret-cookie",
                "X-Forwarded-For": "203.0.113.9",
                "User-Agent": "secretary-tests/1.0",
            },
        )
    sentry_sdk.flush(timeout=10)
    report = [
        {
            "trace_id": f"{s.context.trace_id:032x}",
            "span_id": f"{s.context.span_id:016x}",
            "attributes": {k: v for k, v in (s.attributes or {}).items() if isinstance(v, str | int)},
        }
        for s in spans.get_finished_spans()
    ]
    print(json.dumps(report))


if __name__ == "__main__":
    main(sys.argv[1])
