"""Celery side of the secretary: inbound messages are summarised off the request path."""

from __future__ import annotations

import sys
from typing import Any

from celery import Celery
from celery.signals import worker_ready
from opentelemetry import metrics

from examples.ai_secretary.assistant import summarize_email
from examples.ai_secretary.config import AppConfig
from examples.ai_secretary.models import Message, make_sessionmaker
from otel_secretary import semconv

config = AppConfig.from_env()
celery_app = Celery("ai_secretary", broker=config.redis_url)
celery_app.conf.update(
    task_ignore_result=True,
    broker_connection_retry_on_startup=True,
    # Keep the root logger's handlers (including OpenTelemetry's), which Celery would replace.
    worker_hijack_root_logger=False,
    worker_redirect_stdouts=False,
    task_acks_late=True,
)
_sessions = make_sessionmaker(config.database_url)
# A business metric the seed tracked: messages handled by the secretary, by outcome.
_processed = semconv.counter(metrics.get_meter("ai_secretary"), semconv.DEMO_MESSAGES_PROCESSED)


@celery_app.task(name="ai_secretary.process_inbound_message")
def process_inbound_message(message_id: int, fault: str | None = None) -> str:
    with _sessions() as session:
        message = session.get(Message, message_id)
        if message is None:
            _processed.add(1, {"outcome": "missing"})
            raise LookupError(f"message {message_id} not found")
        try:
            message.summary = summarize_email(config, "Inbound message", message.body, fault=fault)
        except Exception:
            _processed.add(1, {"outcome": "failed"})
            raise
        message.status = "summarised"
        session.commit()
        _processed.add(1, {"outcome": "summarised"})
        return message.status


@worker_ready.connect
def announce_ready(**_: Any) -> None:
    """Celery logs its own 'ready' only through the root logger it no longer owns; say it plainly."""
    print("ai-secretary worker ready", file=sys.stdout, flush=True)
