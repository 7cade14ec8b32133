"""Part two of the demo: the alert path, from spans to an e-mail, a Slack post, a signed webhook and a
PagerDuty event, replayed on the in-process engine's clock (a day of traffic takes a second).

The engine evaluates the very rule specs shipped in ``rules/`` (the ones Prometheus also gets), and
the notifications go through the real channels to real local receivers: an SMTP server (aiosmtpd) and
an HTTP server standing in for Slack, a webhook consumer and PagerDuty's Events API.
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table

from otel_secretary.notify import Dispatcher, build_channels
from otel_secretary.rules.engine import Notification, RuleEngine
from otel_secretary.rules.spec import load_dir
from otel_secretary.testing.receivers import HttpReceiver, SmtpMailbox

SERVICE = "ai-secretary"
WEBHOOK_SECRET = "demo-webhook-secret"


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
    with HttpReceiver(status=202, secrets={"/webhook": WEBHOOK_SECRET}) as http, SmtpMailbox() as smtp:
        channels, policy = build_channels(
            {
                "channels": [
                    {
                        "name": "email",
                        "type": "email",
                        "host": smtp.hostname,
                        "port": smtp.port,
                        "from": "alerts@example.org",
                        "to": ["oncall@example.org"],
                        "severities": ["ticket", "page"],
                    },
                    {"name": "slack", "type": "slack", "url": f"{http.base_url}/slack"},
                    {
                        "name": "webhook",
                        "type": "webhook",
                        "url": f"{http.base_url}/webhook",
                        "secret": WEBHOOK_SECRET,
                    },
                    {
                        "name": "pagerduty",
                        "type": "pagerduty",
                        "url": f"{http.base_url}/pagerduty",
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
        # The receiver verifies each delivery (otel_secretary.notify.verify) and answers 401 otherwise:
        # what it kept under /webhook is what passed, what it refused is in `rejected`.
        webhooks = [r for r in http.requests if r["path"] == "/webhook"]
        signed = len(webhooks)
        refused = len(http.rejected)
        slack, pagerduty, emails = http.bodies("/slack"), http.bodies("/pagerduty"), len(smtp.messages)

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
    dedup_keys = {event["dedup_key"] for event in pagerduty}
    console.print(
        f"Delivered: {emails} e-mails, {len(slack)} Slack posts, {len(webhooks)} webhooks "
        f"({signed} with a valid HMAC signature, {refused} refused), {len(pagerduty)} PagerDuty events "
        f"({', '.join(e['event_action'] for e in pagerduty)}; {len(dedup_keys)} dedup keys)"
    )
    pages = [n for _, n in timeline if n.severity == "page" and n.kind == "trigger"]
    return bool(pages) and signed > 0 and refused == 0
