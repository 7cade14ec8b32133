"""A careless Flask app that initialises Sentry itself, the way most apps that adopt us already do.

``sentry_sdk.init(send_default_pii=True, traces_sample_rate=1.0, enable_logs=True, release=…)`` with
its own ``before_send`` and ``before_breadcrumb`` that copy personal data into tags, extra and
breadcrumb data (keys included). ``APP_SENTRY_MODE`` says when:

- ``after``: at import, under ``opentelemetry-instrument`` (our distro already initialised Sentry
  with ``OTEL_SECRETARY_SENTRY_DSN``, so this is a re-``init``);
- ``before``: at import, then the app calls ``otel_secretary.configure()`` itself;
- ``otlp``: like ``after``, with Sentry's ``OTLPIntegration()`` defaults (it exports our spans to
  Sentry and replaces the global propagator).

The personal data arrives at run time (the environment, then the requests), so finding it in an
envelope means our masking failed, not that Sentry quoted this file's source lines.
"""

from __future__ import annotations

import logging
import os
from typing import Any
from urllib.parse import urlencode

import sentry_sdk
from flask import Flask, has_request_context, request

EMAIL = os.environ["PII_EMAIL"]
PHONE = os.environ["PII_PHONE"]
CARD = os.environ["PII_CARD"]
USERNAME = os.environ["PII_USERNAME"]
CLIENT_IP = os.environ["PII_IP"]
MODE = os.environ["APP_SENTRY_MODE"]


def careless_before_send(event: dict[str, Any], hint: dict[str, Any]) -> dict[str, Any]:
    """Adds personal data after Sentry's own scrubbing: ours must still mask it."""
    who = request.args.get("email", EMAIL) if has_request_context() else EMAIL
    event.setdefault("tags", {})["customer"] = who
    event.setdefault("extra", {})["contacts"] = {who: PHONE, "note": f"call {PHONE}"}
    event["fingerprint"] = ["app-own-fingerprint", who]
    return event


def careless_before_breadcrumb(crumb: dict[str, Any], hint: Any) -> dict[str, Any]:
    crumb.setdefault("data", {})[f"rsvp.{EMAIL}"] = "accepted"
    return crumb


def _integrations() -> list[object]:
    if MODE != "otlp":
        return []
    from sentry_sdk.integrations.otlp import OTLPIntegration

    return [OTLPIntegration()]


sentry_sdk.init(
    dsn=os.environ["APP_SENTRY_DSN"],
    integrations=_integrations(),
    send_default_pii=True,
    traces_sample_rate=1.0,
    enable_logs=True,
    release="careless-app@1.0.0",
    before_send=careless_before_send,
    before_breadcrumb=careless_before_breadcrumb,
)

app = Flask("careless_app")
log = logging.getLogger("careless.invites")


@app.post("/api/v1/invites/<int:number>")
def invite(number: int) -> str:
    email = request.args["email"]
    sentry_sdk.set_user({"id": "user-42", "email": email, "username": USERNAME, "ip_address": CLIENT_IP})
    sentry_sdk.set_extra("attendees", {email: {"phone": request.args["phone"]}})
    log.warning("inviting %s (%s)", email, request.args["phone"])
    sentry_sdk.logger.info("sending invite {number} to {email}", number=number, email=email)
    raise RuntimeError(f"could not reach {email} at {request.args['phone']}")


def main() -> None:
    handle = None
    if MODE == "before":
        from opentelemetry.instrumentation.flask import FlaskInstrumentor

        import otel_secretary

        handle = otel_secretary.configure()
        FlaskInstrumentor().instrument_app(app)
    client = app.test_client()
    client.set_cookie("session", os.environ["PII_COOKIE"])
    client.set_cookie("theme", "dark")
    query = urlencode({"email": EMAIL, "phone": PHONE, "card": CARD})
    for number in range(2):
        client.post(
            f"/api/v1/invites/{number}?{query}",
            data={"card": CARD, "email": EMAIL},
            headers={
                "Authorization": "Bearer tok-abcdef1234567890",
                "X-Forwarded-For": CLIENT_IP,
                "User-Agent": "careless-tests/1.0",
            },
        )
    sentry_sdk.flush(timeout=10)
    if handle is not None:
        handle.force_flush()
        handle.shutdown()
    from otel_secretary.errors import sentry_status

    print("STATUS", sentry_status().describe(), flush=True)


if __name__ == "__main__":
    main()
