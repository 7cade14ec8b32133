"""A Flask app served for real under ``opentelemetry-instrument`` that calls a "third party".

Used by test_baggage_policy.py. ``GET /api/v1/forward`` calls ``THIRD_PARTY_URL`` with ``requests``
and with ``urllib`` (both auto-instrumented, both would inject ``baggage``); ``GET /api/v1/mine`` does
the same inside ``request_context(user_id=…)`` so our own signed pseudonym is in the baggage too.
The app also initialises Sentry with tracing, whose HTTP integration adds its own ``baggage``.
"""

from __future__ import annotations

import os
import sys
import urllib.request

import requests
import sentry_sdk
from flask import Flask

from otel_secretary.context import request_context

sentry_sdk.init(dsn=os.environ["APP_SENTRY_DSN"], traces_sample_rate=1.0, send_default_pii=True)
THIRD_PARTY = os.environ["THIRD_PARTY_URL"]
app = Flask("baggage_app")


def _call_third_party() -> str:
    requests.get(f"{THIRD_PARTY}/v1/charges", timeout=5)
    with urllib.request.urlopen(f"{THIRD_PARTY}/v1/calendar", timeout=5) as response:
        response.read()
    return "ok"


@app.get("/api/v1/forward")
def forward() -> str:
    return _call_third_party()


@app.get("/api/v1/mine")
def mine() -> str:
    with request_context(tenant_id="tenant-3", user_id="user-42"):
        return _call_third_party()


if __name__ == "__main__":
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", int(sys.argv[1]), app, threaded=True)
    print("serving", flush=True)
    server.serve_forever()
