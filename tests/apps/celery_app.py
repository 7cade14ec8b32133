"""A plain Celery app with Celery's default settings (its worker hijacks the root logger), knowing
nothing about otel-secretary. The tests run its worker under ``opentelemetry-instrument celery``.

Synthetic personal data only (example.com addresses, an Ofcom drama number).
"""

from __future__ import annotations

import os

from celery import Celery
from celery.utils.log import get_task_logger
from opentelemetry import trace

broker = os.environ["CELERY_APP_BROKER"]
app = Celery("celery_app", broker=broker, backend=broker)
logger = get_task_logger(__name__)


@app.task
def greet(email: str, phone: str) -> str:
    logger.info("greeting %s on %s", email, phone)
    print(f"printed by the task for {email}")  # Celery redirects a task's stdout to its logger
    return f"greeted {email}"


@app.task
def fail(email: str) -> None:
    raise ValueError(f"no mailbox for {email}")


@app.task
def confirm(attendee: str) -> str:
    """An app annotating its span through the OTel API, then logging about the person by first name."""
    trace.get_current_span().set_attribute("calendar.attendee.display_name", attendee)
    first = attendee.split()[0]
    logger.info("%s accepted the 3pm slot", first)
    return "confirmed"


@app.task
def noop(n: int) -> int:
    return n
