"""Issue 10 acceptance: a careless Flask + Celery app pushes personal data through every route, and a
scan of every sink finds none of it.

Real programs only: the Flask API (careless_stack_app.py) and a prefork Celery worker with Celery's
default settings (careless_stack_tasks.py), each under ``opentelemetry-instrument`` and each with its own
``sentry_sdk.init(send_default_pii=True)``; a real redis-server broker; our collector (otelcol-secretary)
exporting to Jaeger v2; a local Sentry ingest; a local "third-party" API; a local webhook consumer for
the in-process alert rules (OTEL_SECRETARY_RULES_DIR + OTEL_SECRETARY_NOTIFY_CONFIG).

The two processes use the two deployment modes, so that every sink exists:

* the API runs the **embedded default** (trace and log files, ``/metrics``, in-process alert rules and
  their webhook), and sends its logs and metrics over OTLP to the collector as well;
* the worker sends **everything over OTLP** to the collector (traces into Jaeger, logs and metrics to the
  collector's outputs) and keeps JSON-lines files too.

Personal data (e-mail, phone, card, IBAN, a person's name in free text after cues, a contact's given name
alone under a bare ``name``, a client IP) travels
in query strings (``%40``, ``%2B``/``%20`` and ``+`` encodings), a form body, hostile ``baggage``, span
attribute keys and values, a span name that an alert groups by, a metric label that an alert templates,
log ``extra=`` keys, Celery task arguments, task logs, prints, results and exceptions, and a third
party's query string. First every route is shown to have carried the data (its masked placeholder is
there), then every sink is scanned in raw, percent-encoded, +-encoded and JSON-escaped forms.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote, quote_plus, urlencode

import httpx
import pytest

from otel_secretary.stack import Stack, StackOptions, StackPorts
from tests.apps.logging_records import read_log_records
from tests.e2e._apis import Jaeger, tags
from tests.e2e.careless_sinks import folder_text, recording_endpoint
from tests.support.otlp_json import read_spans
from tests.support.processes import REPO, Proc, clean_env, free_port, start_redis, venv_tool
from tests.support.sentry_ingest import leaks, running_sink

pytestmark = pytest.mark.e2e

HERE = Path(__file__).resolve().parent
T = TypeVar("T")

# Obviously synthetic: example.org, Ofcom's drama range, a Luhn-valid test card, the IBAN of the
# standard's examples, a documentation IP (RFC 5737).
EMAIL = "amara.okafor@example.org"
PHONE = "+44 20 7946 0321"
CARD = "4539 1488 0343 6467"
IBAN = "GB82 WEST 1234 5698 7654 32"
NAME = "Amara Okafor"
CONTACT = "Ngozi"  # one given name, sent as first_name and kept by the app under a bare "name"
CLIENT_IP = "203.0.113.77"
NEEDLES = [
    EMAIL,
    "amara.okafor",
    PHONE,
    "7946 0321",
    "79460321",
    CARD,
    "4539148803436467",
    IBAN,
    "GB82WEST12345698765432",
    NAME,
    "Okafor",
    CONTACT,
    CLIENT_IP,
]
WEBHOOK_SECRET = "careless-hook-secret"

RULES = """\
rules:
  # The careless app names a span after its recipient ("notify <e-mail>"): the span_name label.
  - name: CarelessNotifyFailing
    kind: error_rate
    threshold: 0.5
    window: 2m  # the request's minute is complete whichever minute the evaluation falls in
    by: [service_name, span_name]
    selector: {span_kind: internal}
    annotations:
      summary: "{{ $labels.span_name }} keeps failing"
      runbook_url: docs/runbooks/error-rate.md
  # A metric label holding a phone number, templated into the summary.
  - name: CarelessRemindersPending
    kind: threshold
    severity: page
    metric: app.reminders.pending
    aggregate: max
    by: [reminder_contact]
    value: 1
    annotations:
      summary: "reminders pending for {{ $labels.reminder_contact }}"
      runbook_url: docs/runbooks/error-rate.md
"""


def eventually(probe: Callable[[], T | None], what: str, timeout: float = 30.0) -> T:
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            result = probe()
            if result:
                return result
            last = result
        except (OSError, httpx.HTTPError, ValueError, KeyError, IndexError) as exc:
            last = exc
        time.sleep(0.3)
    raise AssertionError(f"{what} not reached after {timeout}s (last: {last!r})")


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    """Our collector and Jaeger (with Prometheus and Alertmanager, as `stack up` starts them) on free
    ports; every trace kept, short flushes, and the collector's debug exporter printing each span and
    log record in full, so the collector's own output can be scanned too."""
    state = Path(tempfile.mkdtemp(prefix="otel-secretary-careless-stack-"))
    options = StackOptions(
        collector_overrides={
            "processors": {
                "tail_sampling": {
                    "decision_wait": "1s",
                    "policies": [{"name": "all", "type": "always_sample"}],
                },
                "batch": {"timeout": "200ms"},
            },
            "connectors": {"span_metrics": {"metrics_flush_interval": "1s"}},
            "exporters": {"debug": {"verbosity": "detailed"}},
            "service": {"pipelines": {"traces/sampled": {"exporters": ["otlp_grpc/jaeger", "debug"]}}},
        }
    )
    running = Stack(state, StackPorts.free(), options=options)
    try:
        running.up(build=True, timeout=120)
        yield running
    finally:
        running.down()


def _get(url: str, headers: dict[str, str] | None = None) -> int:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=15) as r:
            return int(r.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def _post(url: str, body: bytes, content_type: str = "application/x-www-form-urlencoded") -> int:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": content_type}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=15) as r:
            return int(r.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def _jaeger_spans(jaeger: Jaeger, service: str) -> list[dict[str, Any]]:
    return [span for trace in jaeger.traces(service, limit=500) for span in trace["spans"]]


def test_careless_stack_leaks_no_personal_data_into_any_sink(stack: Stack, tmp_path: Path) -> None:
    api_data, worker_data = tmp_path / "api-data", tmp_path / "worker-data"
    rules_dir = tmp_path / "rules"
    rules_dir.mkdir()
    (rules_dir / "careless.yaml").write_text(RULES, encoding="utf-8")
    api_port, metrics_port = free_port(), free_port()
    redis, broker = start_redis(tmp_path)
    otlp = stack.otlp_http_endpoint
    with running_sink() as sentry, recording_endpoint() as third, recording_endpoint() as hooks:
        notify_config = tmp_path / "notify.yaml"
        notify_config.write_text(
            "retry: {attempts: 2, backoff_seconds: 0.2}\n"
            "channels:\n"
            f'  - {{name: hook, type: webhook, url: "{hooks.url}/alerts/careless",\n'
            f'      secret: "{WEBHOOK_SECRET}"}}\n',
            encoding="utf-8",
        )
        common = {
            "PYTHONPATH": f"{HERE}:{REPO}",
            "CARELESS_BROKER": broker,
            "THIRD_PARTY_URL": third.url,
            "OTEL_SECRETARY_SYSTEM_METRICS": "false",
            "OTEL_METRIC_EXPORT_INTERVAL": "1000",
            "OTEL_BSP_SCHEDULE_DELAY": "200",
            "OTEL_BLRP_SCHEDULE_DELAY": "200",
            # Another distro (opentelemetry-distro) is installed in the test venv: choose ours, as the
            # README says to.
            "OTEL_PYTHON_DISTRO": "secretary",
            "OTEL_PYTHON_CONFIGURATOR": "secretary",
        }
        worker_env = clean_env(
            **common,
            APP_SENTRY_DSN=sentry.dsn(2),
            OTEL_SECRETARY_SENTRY_DSN=sentry.dsn(1),
            OTEL_SERVICE_NAME="careless-worker",
            OTEL_EXPORTER_OTLP_ENDPOINT=otlp,
            OTEL_TRACES_EXPORTER="otlp,secretary_jsonl",
            OTEL_LOGS_EXPORTER="otlp,secretary_jsonl",
            OTEL_METRICS_EXPORTER="otlp",
            OTEL_SECRETARY_DATA_DIR=str(worker_data),
            OTEL_SECRETARY_PROMETHEUS_PORT="0",
        )
        api_env = clean_env(
            **common,
            APP_SENTRY_DSN=sentry.dsn(3),
            OTEL_SECRETARY_SENTRY_DSN=sentry.dsn(1),
            OTEL_SERVICE_NAME="careless-api",
            # Embedded default (no OTLP endpoint for traces) plus OTLP logs and metrics to the collector.
            OTEL_LOGS_EXPORTER="secretary_jsonl,otlp",
            OTEL_EXPORTER_OTLP_LOGS_ENDPOINT=f"{otlp}/v1/logs",
            OTEL_METRICS_EXPORTER="prometheus,otlp",
            OTEL_EXPORTER_OTLP_METRICS_ENDPOINT=f"{otlp}/v1/metrics",
            OTEL_SECRETARY_DATA_DIR=str(api_data),
            OTEL_SECRETARY_PROMETHEUS_PORT=str(metrics_port),
            OTEL_SECRETARY_RULES_DIR=str(rules_dir),
            OTEL_SECRETARY_NOTIFY_CONFIG=str(notify_config),
        )
        worker = Proc(
            "careless-worker",
            [
                venv_tool("opentelemetry-instrument"),
                venv_tool("celery"),
                "-A",
                "careless_stack_tasks",
                "worker",
                "--loglevel=INFO",
                "--concurrency=1",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            worker_env,
            tmp_path,
            cwd=tmp_path,
        )
        api = Proc(
            "careless-api",
            [
                venv_tool("opentelemetry-instrument"),
                "python",
                str(HERE / "careless_stack_app.py"),
                str(api_port),
            ],
            api_env,
            tmp_path,
            cwd=tmp_path,
        )
        try:
            api.wait_log("serving", 60)
            worker.wait_log("ready.", 60)
            base = f"http://127.0.0.1:{api_port}"
            # One request, every encoding: %40 (e-mail), %2B/%20 (phone), + (card, IBAN), %20 (name).
            query = "&".join(
                [
                    urlencode({"email": EMAIL}),
                    f"phone={quote(PHONE, safe='')}",
                    f"card={quote_plus(CARD)}",
                    f"iban={quote_plus(IBAN)}",
                    f"name={quote(NAME, safe='')}",
                    f"first_name={CONTACT}",
                ]
            )
            status = _get(
                f"{base}/api/v2/contacts/search?{query}",
                {
                    "baggage": f"user.email={quote(EMAIL)},user.name={quote(NAME)},enduser.id={quote(EMAIL)}",
                    "X-Forwarded-For": CLIENT_IP,
                },
            )
            assert status == 500
            form = urlencode({"email": EMAIL, "phone": PHONE, "iban": IBAN, "full_name": NAME}).encode()
            assert _post(f"{base}/api/v2/contacts", form) == 500

            # Both tasks ran (the reminder called the third party; the charge failed into Sentry), the
            # API's and the worker's errors reached the Sentry ingest.
            eventually(lambda: third.at("/v1/sms"), "the reminder task's third-party call")
            eventually(lambda: len(sentry.of_type("event")) >= 3, "three Sentry error events")
            # The alert rules evaluate (as the next minute's tick would) and fire to the webhook.
            assert _post(f"{base}/internal/evaluate-alerts", b"") == 200
            eventually(lambda: len(hooks.json_bodies("/alerts/")) >= 2, "both alerts at the webhook")
            metrics_text = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10).text
            jaeger = Jaeger(stack.jaeger_url)
            eventually(
                lambda: (
                    {"run/careless_stack_tasks.remind", "run/careless_stack_tasks.charge"}
                    <= {s["operationName"] for s in _jaeger_spans(jaeger, "careless-worker")}
                ),
                "the worker's task spans in Jaeger",
                timeout=45,
            )
        finally:
            api.stop()
            worker.stop(30)
            redis.stop()
        collector_metrics = httpx.get(
            f"http://127.0.0.1:{stack.ports.collector_prometheus}/metrics", timeout=10
        ).text
        # Everything the worker exported on its way out: the collector printed its last records, and
        # Jaeger holds every span the worker also wrote to its own file.
        collector_log = stack.log_path("otelcol")
        eventually(
            lambda: all(
                text in collector_log.read_text(errors="replace")
                for text in ("reminding <email> on <phone>", "searching <email>", "meeting with <name>")
            ),
            "the worker's and the API's records in the collector's output",
        )
        exported = len(read_spans(worker_data / "traces.jsonl"))
        eventually(
            lambda: len(_jaeger_spans(jaeger, "careless-worker")) >= exported,
            f"all {exported} worker spans in Jaeger",
        )
        jaeger_spans = _jaeger_spans(jaeger, "careless-worker") + _jaeger_spans(jaeger, "careless-api")
        third_party_headers = json.dumps([r["headers"] for r in third.requests])
        sinks = {
            "api files": folder_text(api_data),
            "worker files": folder_text(worker_data),
            "api /metrics": metrics_text,
            "sentry envelopes": sentry.text(),
            "webhook notifications": hooks.text(),
            "jaeger spans": json.dumps(jaeger_spans),
            "collector output": collector_log.read_text(errors="replace"),
            "collector /metrics": collector_metrics,
            # What the careless app puts in its own query strings to a third party is the app's business;
            # what we add (baggage, trace headers) is ours.
            "third-party request headers": third_party_headers,
            # Both consoles: our masking covers every handler, Celery's hijacking ones included.
            "api console": api.log.read_text(errors="replace"),
            "worker console": worker.log.read_text(errors="replace"),
        }
        events = sentry.of_type("event")
        notifications = hooks.json_bodies("/alerts/")

    # 1. Every route carried the data: its masked placeholder is where the raw value would have been, so
    #    an empty scan below means something.
    [server] = [s for s in read_spans(api_data / "traces.jsonl") if s.name == "GET /api/v2/contacts/search"]
    query = server.attributes["url.query"]
    assert all(
        f"{k}=<{kind}>" in query
        for k, kind in [
            ("email", "email"),
            ("phone", "phone"),
            ("card", "card"),
            ("iban", "iban"),
            ("name", "name"),
            ("first_name", "name"),
        ]
    ), query
    assert server.attributes["rsvp:<email>"] == "accepted" and server.attributes["organizer"] == "<name>"
    assert server.attributes["name"] == "<name>"  # one given name under a bare "name"
    pseudonym = server.attributes["enduser.id"]  # from the client's baggage, never the raw address
    assert len(pseudonym) == 16 and pseudonym != EMAIL
    assert any("no contact for <email> (<phone>), card <card>" in json.dumps(e) for e in server.events)
    assert "notify <email>" in {s.name for s in read_spans(api_data / "traces.jsonl")}
    api_logs = read_log_records(api_data / "logs.jsonl")
    [searching] = [r for r in api_logs if r.body == "searching <email>"]
    assert searching.attributes["<email>"] == "<phone>"
    assert searching.attributes["contact"] == {"name": "<name>"}
    assert any("name=<name> HTTP/1.1" in r.body for r in api_logs), "werkzeug's access-log line"
    worker_logs = [r.body for r in read_log_records(worker_data / "logs.jsonl")]
    assert "reminding <email> on <phone>: Hi <name>, your call with Dr. <name> is at 3pm" in worker_logs
    assert "sms to <phone> for <email>" in worker_logs  # the task's print, via Celery's redirect
    assert any("raised unexpected" in b and "meeting with <name>" in b for b in worker_logs)
    assert "'<email>', '<phone>', '<name>'" in sinks["worker files"], "Celery's argsrepr, masked by name"
    assert 'reminder_contact="<phone>"' in metrics_text and 'lookup_email="<email>"' in metrics_text
    assert 'lookup_email="<email>"' in collector_metrics  # the API's OTLP metrics, through the collector
    assert len(events) >= 3
    api_error = next(e for e in events if "LookupError" in json.dumps(e.get("exception")))
    assert "name=<name>" in api_error["request"]["query_string"]
    form_error = next(e for e in events if "duplicate contact <email>" in json.dumps(e.get("exception")))
    assert form_error["request"]["data"]["full_name"] == "<name>"
    task_error = next(e for e in events if "celery-job" in e.get("extra", {}))
    assert task_error["extra"]["celery-job"]["args"]["customer"] == "<name>"
    alerts = {a["labels"]["alertname"]: a for n in notifications for a in n["alerts"]}
    assert alerts["CarelessNotifyFailing"]["labels"]["span_name"] == "notify <email>"
    assert alerts["CarelessRemindersPending"]["annotations"]["summary"] == "reminders pending for <phone>"
    remind = next(s for s in jaeger_spans if s["operationName"] == "run/careless_stack_tasks.remind")
    assert tags(remind)["reminder:<email>"] == "<phone>" and tags(remind)["attendee"] == "<name>"
    assert "meeting with <name>" in json.dumps(
        next(s for s in jaeger_spans if s["operationName"] == "run/careless_stack_tasks.charge")
    )
    assert "reminding <email> on <phone>" in sinks["collector output"]  # the worker's OTLP log record
    assert "searching <email>" in sinks["collector output"]  # the API's OTLP log record
    assert third.at("/v1/people") and third.at("/v1/sms")
    # No baggage of ours (nor the client's) to a third party; Sentry's tracing adds its own sentry-* items.
    sent = [
        i.split("=")[0].strip() for r in third.requests for i in r["headers"].get("baggage", "").split(",")
    ]
    assert all(not key or key.startswith("sentry-") for key in sent), sent
    # The collector's own redaction (defence in depth) had nothing left to do but loopback addresses,
    # which our SDK keeps on purpose: every "****" it wrote stands for 127.0.0.1.
    for span in jaeger_spans:
        for key, value in tags(span).items():
            if "****" in str(value):
                assert str(value).replace("****", "127.0.0.1") in sinks["worker files"], (key, value)

    # 2. No sink holds any of the personal data, in any encoding.
    found = {name: leaks(text, NEEDLES) for name, text in sinks.items()}
    assert {name: hits for name, hits in found.items() if hits} == {}

    # 3. `otel-secretary pii audit` agrees: nothing in the exported files, /metrics and the notifications
    #    the masker would still change.
    (tmp_path / "metrics.txt").write_text(metrics_text)
    (tmp_path / "notifications.json").write_text(json.dumps(notifications))
    audit = subprocess.run(
        [
            venv_tool("otel-secretary"),
            "pii",
            "audit",
            str(api_data),
            str(worker_data),
            str(tmp_path / "metrics.txt"),
            str(tmp_path / "notifications.json"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert audit.returncode == 0 and " 0 findings" in audit.stdout, audit.stdout + audit.stderr
