"""The careless stack's Flask API: its own Sentry, Celery tasks with PII arguments, PII everywhere.

Served for real by test_careless_stack.py under ``opentelemetry-instrument``. Written the way a hurried
team writes an app, knowing nothing of otel-secretary: personal data from the request goes into a span
attribute key and value, a given name alone under a bare ``name`` (span attribute and nested ``extra=``),
a log call's ``extra=`` keys, a span *named* after a recipient (which an alert rule then groups by), a
metric label (which another alert rule templates into its summary), Celery task
arguments, a third party's query string, the exception message, and Sentry (``send_default_pii=True``,
so query strings and form bodies too). All personal data arrives with the request.

``POST /internal/evaluate-alerts`` is test plumbing, not carelessness: the in-process rules engine
evaluates on wall-clock minute boundaries, and a test cannot wait for one. It runs the engine's own
evaluation (counts → windows → rules → notification channels) once, as the next minute's tick would.
"""

from __future__ import annotations

import logging
import os
import sys
import time

import requests
import sentry_sdk
from careless_stack_tasks import charge, remind
from flask import Flask, request
from opentelemetry import metrics, trace
from opentelemetry.trace import Status, StatusCode

sentry_sdk.init(
    dsn=os.environ["APP_SENTRY_DSN"],
    send_default_pii=True,
    traces_sample_rate=1.0,
    enable_logs=True,
    release="careless-api@3.1.0",
)
app = Flask("careless_stack_app")
log = logging.getLogger("careless.contacts")
tracer = trace.get_tracer("careless.contacts")
meter = metrics.get_meter("careless.contacts")
pending = meter.create_gauge("app.reminders.pending", unit="{reminder}")
lookups = meter.create_counter("app.lookups", unit="{lookup}")


@app.get("/api/v2/contacts/search")
def search() -> str:
    email, phone, card, iban = (request.args[k] for k in ("email", "phone", "card", "iban"))
    organizer, contact = request.args["name"], request.args["first_name"]
    span = trace.get_current_span()
    span.set_attribute(f"rsvp:{email}", "accepted")
    span.set_attribute("organizer", organizer)
    span.set_attribute("name", contact)  # a contact known by a given name only, under a bare "name"
    extra = {email: phone, "attendees": {email: organizer}, "contact": {"name": contact}}
    log.warning("searching %s", email, extra=extra)
    pending.set(3, {"reminder.contact": phone})
    lookups.add(1, {"lookup.email": email})
    with tracer.start_as_current_span(f"notify {email}") as notify:
        notify.set_status(Status(StatusCode.ERROR, f"no route to {phone}"))
    remind.delay(email, phone, organizer, f"Hi {organizer}, your call with Dr. {organizer} is at 3pm")
    charge.delay(card, iban, organizer, email)
    requests.get(f"{os.environ['THIRD_PARTY_URL']}/v1/people", params={"q": email}, timeout=5)
    raise LookupError(f"no contact for {email} ({phone}), card {card}")


@app.post("/api/v2/contacts")
def create() -> str:
    form = request.form
    log.info("creating contact for %s", form["email"])
    raise ValueError(f"duplicate contact {form['email']} with IBAN {form['iban']}")


@app.post("/internal/evaluate-alerts")
def evaluate_alerts() -> dict[str, int]:
    from otel_secretary.rules import embedded

    sent = [n for rules in list(embedded._instances) for n in rules.evaluate_now(time.time() + 60)]
    return {"sent": len(sent)}


if __name__ == "__main__":
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", int(sys.argv[1]), app, threaded=True)
    print("serving", flush=True)
    server.serve_forever()
