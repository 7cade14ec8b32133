"""Issue 10 acceptance, the parts this branch covers: a careless app pushes PII through every route.

A real Flask app (``careless_app.py``) under ``opentelemetry-instrument``, its own ``sentry_sdk.init``
(``send_default_pii=True``) next to ``OTEL_SECRETARY_SENTRY_DSN``, a local Sentry ingest, and a local
"third-party" API. The request carries personal data in a percent-encoded query string, a hostile
``baggage`` header, and the app puts it into attribute keys, log ``extra=`` keys, a log message and an
exception. Every sink is scanned (raw, percent-encoded, +-encoded, JSON-escaped): the exported trace and
log files, every Sentry envelope, the third party's request headers, and the app's own stderr.

Routes covered here (must be clean): Sentry (all fields, app hooks, re-init), keys, baggage, exception
messages, logs, and percent/+-encoded phones and cards in ``url.query`` and the werkzeug access-log
record. The app's own console is the app's (we add an exporter, we do not rewrite its terminal), so it is
not scanned. Alert notification bodies, Celery worker logging and names in free text have their own
tests (tests/pii/, tests/rules/test_notify_masking*.py, tests/e2e/test_privacy_*.py).
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest

from tests.support.header_recorder import header_recorder
from tests.support.otlp_json import read_spans
from tests.support.processes import Proc, clean_env, free_port, venv_tool
from tests.support.sentry_ingest import leaks, running_sink

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
EMAIL = "priya.shah@example.com"
PHONE = "+44 20 7946 0321"
CARD = "4539 1488 0343 6467"
NAME = "Priya Shah"
CLEAN_NOW = [EMAIL, NAME, "priya.shah", "203.0.113.77"]
ENCODED = [PHONE, "20 7946 0321", CARD]  # also percent/+-encoded in url.query


@pytest.fixture
def third_party() -> Iterator[tuple[str, list[dict[str, str]]]]:
    with header_recorder() as recorder:
        yield recorder


def test_careless_app_leaks_nothing_through_sentry_keys_baggage_or_logs(
    third_party: tuple[str, list[dict[str, str]]], tmp_path: Path
) -> None:
    url, received = third_party
    data = tmp_path / "data"
    port = free_port()
    with running_sink() as sentry:
        env = clean_env(
            APP_SENTRY_DSN=sentry.dsn(2),
            OTEL_SECRETARY_SENTRY_DSN=sentry.dsn(1),
            THIRD_PARTY_URL=url,
            OTEL_SECRETARY_DATA_DIR=str(data),
            OTEL_SECRETARY_PROMETHEUS_PORT="0",
            OTEL_SECRETARY_RULES_ENABLED="false",
            OTEL_SECRETARY_SYSTEM_METRICS="false",
            OTEL_SERVICE_NAME="careless-app",
        )
        app = str(ROOT / "tests" / "e2e" / "careless_app.py")
        proc = Proc(
            "careless", [venv_tool("opentelemetry-instrument"), "python", app, str(port)], env, tmp_path
        )
        try:
            proc.wait_log("serving")
            query = urlencode({"email": EMAIL, "phone": PHONE, "card": CARD})
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/api/v1/contacts/lookup?{query}",
                headers={
                    "baggage": "user.email=priya.shah%40example.com,user.name=Priya%20Shah,"
                    "enduser.id=priya.shah%40example.com",
                    "X-Forwarded-For": "203.0.113.77",
                },
            )
            with pytest.raises(urllib.error.HTTPError):
                urllib.request.urlopen(request, timeout=10)
            traces, logs = data / "traces.jsonl", data / "logs.jsonl"
            proc.wait_until(
                lambda: traces.exists() and logs.exists() and any(s.kind == 2 for s in read_spans(traces)),
                timeout=60,
                what="the request's spans and logs exported",
            )
            proc.wait_until(lambda: bool(sentry.of_type("event")), timeout=30, what="a Sentry event")
        finally:
            proc.stop()
        envelopes = sentry.text()
    ours_on_stderr = "\n".join(
        line for line in proc.log.read_text(errors="replace").splitlines() if "otel-secretary" in line
    )
    exported = (data / "traces.jsonl").read_text() + (data / "logs.jsonl").read_text()
    outbound = json.dumps(received)

    # Proof the data really went through each route (masked), so an empty scan means something.
    [server] = [s for s in read_spans(data / "traces.jsonl") if s.kind == 2]
    assert server.attributes["rsvp:<email>"] == "accepted"
    assert server.attributes["enduser.id"] != EMAIL and len(server.attributes["enduser.id"]) == 16
    assert "<email>" in exported and "<email>" in envelopes
    [event] = sentry.of_type("event")
    assert event["contexts"]["trace"]["trace_id"] == server.trace_id
    assert event["exception"]["values"][-1]["value"].startswith("no contact for <email>")
    assert (received and "baggage" not in received[0]) or "priya" not in received[0].get("baggage", "")

    # Closed by this branch: must be clean everywhere.
    assert leaks(envelopes, CLEAN_NOW + ENCODED) == []
    assert leaks(outbound, CLEAN_NOW) == []
    assert leaks(exported, CLEAN_NOW) == []
    # Percent- and +-encoded values (url.query, the werkzeug access-log record): masked too.
    assert leaks(exported, ENCODED) == []
    assert leaks(ours_on_stderr, CLEAN_NOW + ENCODED) == []  # our own warnings; the app's lines are its own
