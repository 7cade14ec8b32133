"""The example's shape through the real front door: ``otel_secretary.configure()`` with a Sentry DSN.

Run as a subprocess by test_errors_sentry.py (configure() sets global providers and Sentry patches
libraries process-wide). Everything comes from the environment, as in production; the embedded
default writes traces to OTEL_SECRETARY_DATA_DIR. Prints nothing: the test reads the trace file and
the Sentry envelopes. The personal data arrives at run time (argv), as it would from a request,
so finding it in an envelope means our masking failed, not that Sentry quoted this file's source.
"""

from __future__ import annotations

import sys

import sentry_sdk
from flask import Flask
from opentelemetry.instrumentation.flask import FlaskInstrumentor

import otel_secretary


def main(email: str, body: str) -> None:
    handle = otel_secretary.configure()
    app = Flask("configured_app")

    @app.post("/api/v1/emails/summarize")
    def summarize() -> str:
        raise TimeoutError(f"OpenAI did not answer for {email} within 30 s")

    FlaskInstrumentor().instrument_app(app)
    app.test_client().post(
        "/api/v1/emails/summarize",
        json={"body": body},
        headers={"baggage": "app.tenant.id=tenant-9,enduser.id=0b1c2d3e4f5a6b7c"},
    )
    sentry_sdk.flush(timeout=10)
    handle.force_flush()
    handle.shutdown()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
