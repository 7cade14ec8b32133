"""The careless stack's Celery tasks: Celery's default settings, the app's own Sentry, PII in and out.

Run by test_careless_stack.py as a real prefork worker under ``opentelemetry-instrument celery -A
careless_stack_tasks worker`` over a real redis-server; the Flask app (careless_stack_app.py) enqueues
with ``.delay``. Nothing here knows otel-secretary. Celery's defaults apply: the worker hijacks the root
logger (replaces its handlers with Celery's own), redirects a task's ``print`` to its logger, and logs
every result and exception; Sentry's Celery integration (auto-enabled) reports task errors with their
arguments. Every personal value arrives as a task argument, never from this file's source.
"""

from __future__ import annotations

import os

import requests
import sentry_sdk
from celery import Celery
from celery.utils.log import get_task_logger
from opentelemetry import trace

sentry_sdk.init(
    dsn=os.environ["APP_SENTRY_DSN"],
    send_default_pii=True,
    traces_sample_rate=1.0,
    enable_logs=True,
    release="careless-worker@1.0.0",
)
broker = os.environ["CARELESS_BROKER"]
app = Celery("careless_stack_tasks", broker=broker, backend=broker)
logger = get_task_logger(__name__)


@app.task
def remind(email: str, phone: str, attendee: str, note: str) -> str:
    span = trace.get_current_span()
    span.set_attribute(f"reminder:{email}", phone)  # personal data in an attribute key
    span.set_attribute("attendee", attendee)
    logger.info("reminding %s on %s: %s", email, phone, note, extra={email: {"phone": phone}})
    print(f"sms to {phone} for {email}")  # Celery's default: a task's stdout goes to its logger
    # A careless call to a third party: the e-mail and phone travel in the query string (percent- and
    # +-encoded by requests), and whatever baggage the task inherited would be forwarded.
    requests.get(f"{os.environ['THIRD_PARTY_URL']}/v1/sms", params={"to": phone, "email": email}, timeout=5)
    return f"reminded {email} on {phone}"


@app.task
def charge(card: str, iban: str, customer: str, email: str) -> None:
    logger.warning("charging %s", customer, extra={"billing": {"card": card, "iban": iban}})
    raise ValueError(f"card {card} declined for {email}; fallback IBAN {iban}, meeting with {customer}")
