"""A slightly careless Flask app (ours, not the example's): Sentry of its own, PII everywhere.

Served for real by test_careless_app.py under ``opentelemetry-instrument``. It initialises Sentry at
import with ``send_default_pii=True``, tracing and logs, next to ``OTEL_SECRETARY_SENTRY_DSN``; its
route puts the caller's personal data into a span attribute *key*, a log call's ``extra=`` keys and
values, a Sentry breadcrumb, the exception message, and calls a third-party API (where client baggage
would be forwarded). All personal data arrives with the request, never from this file's source.
"""

from __future__ import annotations

import logging
import os
import sys

import requests
import sentry_sdk
from flask import Flask, request
from opentelemetry import trace

sentry_sdk.init(
    dsn=os.environ["APP_SENTRY_DSN"],
    send_default_pii=True,
    traces_sample_rate=1.0,
    enable_logs=True,
    release="careless@2.0.0",
)
app = Flask("careless_app")
log = logging.getLogger("careless.contacts")


@app.get("/api/v1/contacts/lookup")
def lookup() -> str:
    email, phone = request.args["email"], request.args["phone"]
    trace.get_current_span().set_attribute(f"rsvp:{email}", "accepted")
    log.warning("looking up %s", email, extra={email: phone, "attendees": {email: "accepted"}})
    requests.get(f"{os.environ['THIRD_PARTY_URL']}/v1/people", params={"q": "x"}, timeout=5)
    raise LookupError(f"no contact for {email} ({phone})")


if __name__ == "__main__":
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", int(sys.argv[1]), app, threaded=True)
    print("serving", flush=True)
    server.serve_forever()
