"""Celery's default worker logging (root logger hijacked) keeps our export and masking (issue 10 item 5).

A plain Celery app (tests/apps/celery_app.py), Celery's default settings, a real prefork worker under
``opentelemetry-instrument`` over a real redis-server. A task logs, prints and returns personal data, and
another raises with it: every such line is exported once and masked, and what the worker prints on its
stderr is masked too (our masking is designed to cover every handler, not only the export)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.apps.celery_worker import CeleryWorker, run_celery_worker
from tests.apps.logging_records import JsonLogRecord, read_log_records

pytestmark = pytest.mark.integration

EMAIL = "grace.hopper@example.com"
PHONE = "+44 20 7946 0958"  # Ofcom's drama range
ATTENDEE = "Priya Natarajan"


def wait_records(worker: CeleryWorker, done: Callable[[list[JsonLogRecord]], bool]) -> list[JsonLogRecord]:
    deadline = time.monotonic() + 30
    records: list[JsonLogRecord] = []
    while time.monotonic() < deadline:
        records = read_log_records(worker.data / "logs.jsonl")
        if done(records):
            return records
        time.sleep(0.2)
    raise AssertionError(f"expected log records never arrived; have {[r.body[:80] for r in records]}")


def having(records: list[JsonLogRecord], fragment: str) -> list[JsonLogRecord]:
    return [r for r in records if fragment in r.body]


def test_worker_logs_are_exported_once_and_masked_everywhere(tmp_path: Path) -> None:
    with run_celery_worker(tmp_path, "--concurrency=1") as worker:
        assert worker.client.send_task("celery_app.greet", args=[EMAIL, PHONE]).get(timeout=30) == (
            f"greeted {EMAIL}"
        )
        with pytest.raises(Exception, match="no mailbox"):
            worker.client.send_task("celery_app.fail", args=[EMAIL]).get(timeout=30)
        # A last task, so that every record of the first two is exported before we count.
        assert worker.client.send_task("celery_app.noop", args=[7]).get(timeout=30) == 7
        records = wait_records(
            worker,
            lambda rs: (
                bool(having(rs, "raised unexpected"))
                and bool(having(rs, "celery_app.noop") and having(rs, "succeeded"))
            ),
        )
        console = worker.console()

    task_line = having(records, "greeting")
    printed = having(records, "printed by the task for")
    succeeded = [r for r in having(records, "succeeded in") if "celery_app.greet" in r.body]
    failed = having(records, "raised unexpected")
    for found in (task_line, printed, succeeded, failed):
        assert len(found) == 1, [r.body for r in found]
    assert task_line[0].severity == "INFO" and task_line[0].resource["service.name"] == "celery-app"
    assert task_line[0].trace_id, "a task's log record carries the task span's trace"
    assert failed[0].severity == "ERROR" and failed[0].attributes["exception.type"] == "ValueError"

    exported = (worker.data / "logs.jsonl").read_text()
    # The phone's digit group on its own, not inside a longer number (a nanosecond timestamp may hold "7946").
    assert (
        EMAIL not in exported and PHONE not in exported and re.search(r"(?<!\d)7946(?!\d)", exported) is None
    )
    # The worker's own stderr (Celery's handlers, which replaced root's) printed the same lines, masked.
    assert "greeting" in console and "raised unexpected" in console and "printed by the task for" in console
    assert EMAIL not in console and "7946 0958" not in console


def test_a_task_line_naming_whom_its_open_span_names_is_masked_in_a_prefork_child(tmp_path: Path) -> None:
    """The task's span is still open when its line is written (and exported: logs leave every second,
    spans every five), in a pool child forked from the worker: the line is masked with the name the
    span carries, in the exported logs and on the worker's stderr."""
    with run_celery_worker(tmp_path, "--concurrency=1") as worker:
        assert worker.client.send_task("celery_app.confirm", args=[ATTENDEE]).get(timeout=30) == "confirmed"
        assert worker.client.send_task("celery_app.noop", args=[8]).get(timeout=30) == 8
        records = wait_records(
            worker, lambda rs: bool(having(rs, "accepted the 3pm slot") and having(rs, "celery_app.noop"))
        )
        console = worker.console()
    (line,) = having(records, "accepted the 3pm slot")
    assert line.body == "<name> accepted the 3pm slot" and line.trace_id
    assert "<name> accepted the 3pm slot" in console
    for sink in ((worker.data / "logs.jsonl").read_text(), console):
        assert "Priya" not in sink and "Natarajan" not in sink
