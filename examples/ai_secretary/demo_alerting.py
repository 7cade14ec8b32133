"""Part two of the demo: the alert path, from spans to an e-mail, a Slack post, a signed webhook and a
PagerDuty event, replayed on the in-process engine's clock (a day of traffic takes a second).

The engine evaluates the very rule specs shipped in ``rules/`` (the ones Prometheus also gets), and
the notifications go through the real channels to real local receivers: an SMTP server (aiosmtpd) and
an HTTP server standing in for Slack, a webhook consumer and PagerDuty's Events API.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from rich.console import Console
from rich.table import Table

from examples.ai_secretary.processes import free_port
from otel_secretary.notify import Dispatcher, build_channels
from otel_secretary.notify.channels import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from otel_secretary.rules.engine import Notification, RuleEngine
from otel_secretary.rules.spec import load_dir

SERVICE = "ai-secretary"
WEBHOOK_SECRET = "demo-webhook-secret"


@dataclass
class Receivers:
    """Everything the local receivers got, by channel."""

    posts: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    valid_signatures: int = 0
    emails: list[str] = field(default_factory=list)


def _http_receiver(received: Receivers) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            channel = self.path.strip("/")
            received.posts.setdefault(channel, []).append(json.loads(body))
            if channel == "webhook":
                expected = "sha256=" + sign(WEBHOOK_SECRET.encode(), self.headers[TIMESTAMP_HEADER], body)
                received.valid_signatures += self.headers[SIGNATURE_HEADER] == expected
            self.send_response(202 if channel == "pagerduty" else 200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


class _SmtpHandler:
    def __init__(self, received: Receivers) -> None:
        self.received = received

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        subject = next(
            (line[9:] for line in envelope.content.decode().splitlines() if line.startswith("Subject: ")), ""
        )
        self.received.emails.append(subject)
        return "250 Message accepted for delivery"


def replay(engine: RuleEngine, timeline: list[tuple[int, Notification]]) -> None:
    """A day of healthy traffic, a 30-minute OpenAI outage (the API answers 500), then recovery."""

    def minute(m: int, bad_share: float) -> None:
        ts = m * 60 + 30
        for name, kind in (("POST /api/v1/emails/summarize", "server"), ("chat gpt-4o-mini", "client")):
            bad = 60 * bad_share
            if bad:
                engine.observe_span(SERVICE, name, kind, True, 0.4, ts, count=bad)
            engine.observe_span(SERVICE, name, kind, False, 0.3, ts, count=60 - bad)
        timeline.extend(((m + 1), n) for n in engine.evaluate((m + 1) * 60))

    for m in range(24 * 60):
        minute(m, 0.0)
    for m in range(24 * 60, 24 * 60 + 30):
        minute(m, 1.0)
    for m in range(24 * 60 + 30, 24 * 60 + 4 * 60):
        minute(m, 0.0)


def run(rules_dir: Path, console: Console) -> bool:
    received = Receivers()
    http = _http_receiver(received)
    smtp = Controller(_SmtpHandler(received), hostname="127.0.0.1", port=free_port())
    smtp.start()
    base = f"http://127.0.0.1:{http.server_address[1]}"
    channels, policy = build_channels(
        {
            "channels": [
                {
                    "name": "email",
                    "type": "email",
                    "host": "127.0.0.1",
                    "port": smtp.port,
                    "from": "alerts@example.org",
                    "to": ["oncall@example.org"],
                    "severities": ["ticket", "page"],
                },
                {"name": "slack", "type": "slack", "url": f"{base}/slack"},
                {"name": "webhook", "type": "webhook", "url": f"{base}/webhook", "secret": WEBHOOK_SECRET},
                {
                    "name": "pagerduty",
                    "type": "pagerduty",
                    "url": f"{base}/pagerduty",
                    "routing_key": "demo-routing-key",
                    "severities": ["page"],
                },
            ],
            "retry": {"attempts": 2, "backoff_seconds": 0.1, "timeout_seconds": 2},
        },
        env={},
    )
    dispatcher = Dispatcher(channels, policy)
    specs = load_dir(rules_dir)
    engine = RuleEngine(specs, sink=dispatcher.submit)
    timeline: list[tuple[int, Notification]] = []
    try:
        replay(engine, timeline)
        dispatcher.flush(15)
    finally:
        dispatcher.close()
        smtp.stop()
        http.shutdown()

    outage_start = 24 * 60
    table = Table(
        "minute",
        "event",
        "alert",
        "severity",
        title=f"Replayed on {len(specs)} shipped rules: "
        "a healthy day, then OpenAI down for 30 minutes (minute 0 = outage start)",
    )
    for at, n in timeline:
        table.add_row(f"{at - outage_start:+d}", n.kind, n.alertname, n.severity)
    console.print(table)
    pagerduty = received.posts.get("pagerduty", [])
    dedup_keys = {event["dedup_key"] for event in pagerduty}
    console.print(
        f"Delivered: {len(received.emails)} e-mails, {len(received.posts.get('slack', []))} Slack posts, "
        f"{len(received.posts.get('webhook', []))} webhooks ({received.valid_signatures} with a valid HMAC "
        f"signature), {len(pagerduty)} PagerDuty events "
        f"({', '.join(e['event_action'] for e in pagerduty)}; {len(dedup_keys)} dedup keys)"
    )
    pages = [n for _, n in timeline if n.severity == "page" and n.kind == "trigger"]
    return bool(pages) and received.valid_signatures == len(received.posts.get("webhook", []))
