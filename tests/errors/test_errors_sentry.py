"""The real sentry-sdk, configured by otel-secretary, sends envelopes to a local HTTP server.

The envelopes are read back and checked: trace and span id equal the OTel server span's, our
fingerprint and tags are there, repeats are sampled, and no PII from the exception message,
the request body or the headers reached Sentry.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from otel_secretary.errors._sentry import RepeatSampler
from tests.support.processes import clean_env
from tests.support.sentry_ingest import EnvelopeSink, running_sink

ROOT = Path(__file__).resolve().parents[2]
PII = ["alice@example.com", "bob@example.org", "4242 4242", "4242424242424242", "5555 5555", "secret-cookie"]
SECRETS = ["sk_live_fake_secret_token", "203.0.113.9"]


@pytest.fixture
def sink() -> Iterator[tuple[EnvelopeSink, str]]:
    with running_sink() as received:
        yield received, received.dsn()


def test_sentry_events_link_to_the_trace_carry_fingerprint_and_no_pii(sink: tuple[EnvelopeSink, str]) -> None:
    received, dsn = sink
    run = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "errors" / "sentry_app.py"), dsn],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=90,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    spans = json.loads(run.stdout.strip().splitlines()[-1])
    assert len(spans) == 5
    assert all(path == "/api/1/envelope/" for path in received.paths)

    events = [payload for header, payload in received.items() if header.get("type") == "event"]
    # Same bug five times (different customers, e-mails, cards): occurrences 1, 2 and 4 are sent.
    assert [e["extra"]["app.error.occurrences"] for e in events] == [1, 2, 4]
    fingerprints = {s["attributes"]["app.error.fingerprint"] for s in spans}
    assert len(fingerprints) == 1
    for event, span in zip(events, [spans[0], spans[1], spans[3]], strict=True):
        assert event["contexts"]["trace"]["trace_id"] == span["trace_id"]
        assert event["contexts"]["trace"]["span_id"] == span["span_id"]
        assert span["attributes"]["sentry.event_id"] == event["event_id"]
        assert event["fingerprint"] == [span["attributes"]["app.error.fingerprint"]]
        assert event["tags"]["app.error.category"] == "internal"
        assert event["tags"]["app.error.severity"] == "high"
        assert event["tags"]["error.type"] == "ValueError"
        assert event["tags"]["http.route"] == "/api/v1/subscriptions/<customer_id>"
        assert event["tags"]["app.tenant.id"] == "tenant-7"
        # The client's baggage user id is untrusted: pseudonymised, the same on the span and the event.
        assert event["user"] == {"id": span["attributes"]["enduser.id"]}
        assert event["user"]["id"] != "5f0c2a9e1b7d4c3a"
        assert event["contexts"]["request_context"] == {
            "http.request.method": "POST",
            "http.route": "/api/v1/subscriptions/<customer_id>",
            "http.response.status_code": 500,
        }
        assert event["level"] == "error"
        headers = {k.lower() for k in event.get("request", {}).get("headers", {})}
        assert headers <= {"user-agent", "host", "content-type", "content-length", "accept"}
        assert "data" not in event.get("request", {})
        message = event["exception"]["values"][-1]["value"]
        assert "<email>" in message and "<card>" in message
        crumbs = [c["message"] for c in event["breadcrumbs"]["values"] if c.get("category") == "billing"]
        assert crumbs and all(c.startswith("charging <email> for customer ") for c in crumbs)
    raw = b"".join(received.bodies).decode("utf-8", "replace")
    leaked = [needle for needle in PII + SECRETS if needle in raw]
    assert leaked == []


def test_repeat_sampler_sends_powers_of_two_and_resets_after_the_window() -> None:
    now = [0.0]
    sampler = RepeatSampler(10.0, clock=lambda: now[0])
    sent = [n for n in range(1, 20) if sampler.admit("fp")[0]]
    assert sent == [1, 2, 4, 8, 16]
    assert sampler.admit("other") == (True, 1)
    now[0] = 10.5
    assert sampler.admit("fp") == (True, 1)


def test_repeat_window_zero_sends_everything() -> None:
    sampler = RepeatSampler(0.0)
    assert all(sampler.admit("fp")[0] for _ in range(10))


def test_sampler_memory_is_bounded() -> None:
    sampler = RepeatSampler(60.0, max_keys=3)
    for key in "abcd":
        sampler.admit(key)
    assert sampler.admit("a") == (True, 1)  # "a" was evicted, so it counts as new


def test_configure_with_a_dsn_links_sentry_and_the_trace_file(
    sink: tuple[EnvelopeSink, str], tmp_path: Path
) -> None:
    """Through the real pipeline: the Sentry event's trace id is the one of the span in traces.jsonl."""
    from otel_secretary.errors.summary import summarize_files
    from tests.support.otlp_json import read_spans

    received, dsn = sink
    env = clean_env(
        OTEL_SECRETARY_SENTRY_DSN=dsn,
        OTEL_SECRETARY_DATA_DIR=str(tmp_path),
        OTEL_SECRETARY_PROMETHEUS_PORT="0",
        OTEL_SECRETARY_RULES_ENABLED="false",
        OTEL_SECRETARY_SYSTEM_METRICS="false",
        OTEL_SERVICE_NAME="secretary-api",
    )
    run = subprocess.run(
        [
            sys.executable,
            str(ROOT / "tests" / "errors" / "configured_app.py"),
            "frank@example.com",
            "Please charge card 4242 4242 4242 4242 for frank@example.com",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=90,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    spans = read_spans(tmp_path / "traces.jsonl")
    [server] = [s for s in spans if s.kind == 2]
    assert server.attributes["app.error.category"] == "timeout"
    assert server.attributes["app.tenant.id"] == "tenant-9"
    [event, task_event] = [payload for header, payload in received.items() if header.get("type") == "event"]
    assert event["contexts"]["trace"]["trace_id"] == server.trace_id
    assert event["contexts"]["trace"]["span_id"] == server.span_id
    assert server.attributes["sentry.event_id"] == event["event_id"]
    assert event["fingerprint"] == [server.attributes["app.error.fingerprint"]]
    assert event["tags"]["app.error.category"] == "timeout"

    [task] = [s for s in spans if s.name.startswith("run/")]
    assert task.attributes["app.error.category"] == "database"
    assert task.attributes["app.error.severity"] == "critical"
    assert task_event["contexts"]["trace"]["trace_id"] == task.trace_id
    assert task_event["contexts"]["trace"]["span_id"] == task.span_id
    assert task_event["tags"]["app.error.category"] == "database"
    assert task_event["fingerprint"] == [task.attributes["app.error.fingerprint"]]

    raw = b"".join(received.bodies).decode("utf-8", "replace")
    assert "frank@example.com" not in raw and "4242 4242" not in raw
    trace_text = (tmp_path / "traces.jsonl").read_text()
    assert "frank@example.com" not in trace_text

    summary = summarize_files(tmp_path, 3600)
    assert [(r.category, r.count) for r in summary.categories] == [("database", 1), ("timeout", 1)]
    assert {f.example_trace_id for f in summary.fingerprints} == {server.trace_id, task.trace_id}
