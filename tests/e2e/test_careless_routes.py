"""The routes test_careless_stack.py found open, each closed and pinned here in-process (fast, no stack).

* a person's name after ``name=`` in a decoded query (``name=Amara+Okafor``: only "Amara" was masked);
* Sentry's ``request.query_string`` pairs, masked with the same cues as ``url.query``;
* Sentry frame locals as Sentry serialises them (``'Amara Okafor'``, a repr) under a name key;
* positional Celery task arguments: Celery's ``argsrepr`` (logged by the worker) and Sentry's
  ``celery-job`` args, masked under their parameter names, and the name learned from them masked in
  the rest of the event (Celery's own frame locals hold the arguments unnamed).

Real pieces: a real Celery app publishing over kombu's in-memory transport, the real masker, the real
Sentry event processor, a real SDK span for the trace scope.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from celery import Celery
from opentelemetry.sdk.trace import TracerProvider

from otel_secretary import pii
from otel_secretary._internal import celery_arguments
from otel_secretary.errors._record import ErrorRecorder
from otel_secretary.errors._sentry import RepeatSampler, SentryEventProcessor
from otel_secretary.pii._sentry import sentry_scrubber

EMAIL = "amara.okafor@example.org"
PHONE = "+44 20 7946 0321"
NAME = "Amara Okafor"


@pytest.mark.parametrize(
    "query",
    [
        "name=Amara Okafor&x=1",
        "name=Amara+Okafor&x=1",
        "name=Amara%20Okafor&x=1",
        "attendee=Amara%20Okafor&x=1",
    ],
)
def test_a_name_after_name_equals_is_masked_whole_in_any_encoding(query: str) -> None:
    masked = pii.Masker().mask_text(query)
    assert "Okafor" not in masked and "Amara" not in masked
    assert masked.endswith("=<name>&x=1"), masked


def test_name_equals_keeps_what_is_not_a_name() -> None:
    masker = pii.Masker()
    assert masker.mask_text("name=careless_stack_tasks.remind") == "name=careless_stack_tasks.remind"
    assert masker.mask_text("name=Amara Okafor has 3 items") == "name=<name> has 3 items"


def test_sentry_query_string_and_repr_locals_are_masked_by_key() -> None:
    event = {
        "request": {"query_string": "email=amara.okafor%40example.org&name=Amara+Okafor"},
        "exception": {
            "values": [
                {"stacktrace": {"frames": [{"vars": {"attendee": f"'{NAME}'", "customer": f'"{NAME}"'}}]}}
            ]
        },
    }
    scrubbed = sentry_scrubber(pii.Masker())(event, {})
    assert scrubbed["request"]["query_string"] == "email=<email>&name=<name>"
    assert scrubbed["exception"]["values"][0]["stacktrace"]["frames"][0]["vars"] == {
        "attendee": "'<name>'",
        "customer": '"<name>"',
    }


@pytest.fixture(scope="module")
def celery_app() -> Iterator[Celery]:
    app = Celery("careless_routes", broker="memory://", backend="cache+memory://", set_as_current=True)

    @app.task(name="careless_routes.remind")
    def remind(email: str, phone: str, attendee: str, *rest: str) -> None:
        return None

    celery_arguments.connect()
    celery_arguments._parameters.pop("careless_routes.remind", None)
    try:
        yield app
    finally:
        app.close()


def test_the_published_argsrepr_is_masked_under_parameter_names(celery_app: Celery) -> None:
    celery_app.tasks["careless_routes.remind"].apply_async(
        args=[EMAIL, PHONE, NAME, "Hi there"], kwargs={}, queue="careless"
    )
    with celery_app.connection_for_read() as connection:
        message = connection.SimpleQueue("careless").get(timeout=5)
        headers = dict(message.headers)
        message.ack()
    assert headers["argsrepr"] == "['<email>', '<phone>', '<name>', 'Hi there']"  # as Celery shows a list
    assert headers["kwargsrepr"] == "{}"
    assert message.payload[0] == [EMAIL, PHONE, NAME, "Hi there"]  # the task still gets its arguments


def test_an_argsrepr_the_app_wrote_itself_is_kept_and_masked(celery_app: Celery) -> None:
    celery_app.tasks["careless_routes.remind"].apply_async(
        args=[EMAIL, PHONE, NAME], argsrepr=f"(hidden, {EMAIL})", queue="careless"
    )
    with celery_app.connection_for_read() as connection:
        message = connection.SimpleQueue("careless").get(timeout=5)
        headers = dict(message.headers)
        message.ack()
    assert headers["argsrepr"] == "(hidden, <email>)"


def test_an_unknown_task_keeps_content_masking(celery_app: Celery) -> None:
    argsrepr, _ = celery_arguments.masked_reprs("not.registered", [EMAIL, NAME], {"customer": NAME})
    assert argsrepr == f"['<email>', '{NAME}']"  # a bare positional name has no key to go by
    assert (
        celery_arguments.masked_reprs("not.registered", [], {"customer": NAME})[1] == "{'customer': '<name>'}"
    )


def test_the_worker_remasks_an_argsrepr_a_foreign_producer_sent(celery_app: Celery) -> None:
    """Celery's "received" record, as celery.worker.strategy logs it, with a raw argsrepr."""
    kept: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            kept.append(record)

    logger = logging.getLogger("celery.worker.strategy")
    handler, level = Keep(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        context = {
            "id": "1",
            "name": "careless_routes.remind",
            "args": repr((EMAIL, PHONE, NAME)),
            "kwargs": "{}",
        }
        logger.info("Task %(name)s[%(id)s] received", context, extra={"data": context})
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    [record] = kept
    assert record.data["args"] == "('<email>', '<phone>', '<name>')"  # type: ignore[attr-defined]
    assert record.getMessage() == "Task careless_routes.remind[1] received"


def _processor(masker: pii.Masker) -> SentryEventProcessor:
    return SentryEventProcessor(ErrorRecorder(masker=masker), masker, RepeatSampler(0))


def test_sentry_celery_job_args_are_named_and_the_name_is_masked_everywhere_in_the_event(
    celery_app: Celery,
) -> None:
    masker = pii.Masker()
    celery_locals: dict[str, Any] = {"args": [f"'{EMAIL}'", f"'{PHONE}'", f"'{NAME}'"]}
    event: dict[str, Any] = {
        "extra": {
            "celery-job": {"task_name": "careless_routes.remind", "args": [EMAIL, PHONE, NAME], "kwargs": {}}
        },
        "exception": {
            "values": [{"type": "ValueError", "stacktrace": {"frames": [{"vars": celery_locals}]}}]
        },
        "breadcrumbs": {"values": [{"message": f"request {{'args': ['{NAME}']}}"}]},
    }
    provider = TracerProvider()
    with provider.get_tracer("t").start_as_current_span("run/careless_routes.remind"):
        sent = _processor(masker).before_send(event, {})
    provider.shutdown()
    assert sent is not None
    assert sent["extra"]["celery-job"]["args"] == {
        "email": "<email>",
        "phone": "<phone>",
        "attendee": "<name>",
    }
    text = repr(sent)
    assert "Okafor" not in text and "Amara" not in text, text
