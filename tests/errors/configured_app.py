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


def run_failing_task(email: str) -> None:
    """An eager Celery task failing under the Celery instrumentation, like the example's worker."""
    from celery import Celery
    from opentelemetry.instrumentation.celery import CeleryInstrumentor

    CeleryInstrumentor().instrument()
    celery = Celery("configured_app", set_as_current=False)
    celery.conf.task_always_eager = True

    @celery.task(name="tasks.process_inbound_message")
    def process_inbound_message(sender: str) -> None:
        import redis

        redis.Redis(port=1, socket_connect_timeout=0.2, retry=None).get(f"inbox:{sender}")

    process_inbound_message.apply(args=(email,))


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
    run_failing_task(email)
    sentry_sdk.flush(timeout=10)
    handle.force_flush()
    handle.shutdown()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
