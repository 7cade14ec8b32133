"""A small third-party-shaped WSGI app for the prefork agreement test (not our example app).

Imported once in the gunicorn master (``--preload``): it builds the embedded engine there (1-second buckets
and interval, so a test runs in seconds), and gunicorn forks the workers, which count their own spans and
write them to the shared data folder. Settings come from environment variables set by the test.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import SpanKind, Status, StatusCode

from otel_secretary.rules.embedded import EmbeddedRules
from otel_secretary.rules.engine import EngineOptions
from otel_secretary.rules.spec import load_file

rules = EmbeddedRules(
    load_file(Path(os.environ["PREFORK_SPECS"])),
    Path(os.environ["PREFORK_DATA"]),
    notify_config=Path(os.environ["PREFORK_NOTIFY"]),
    interval=1.0,
    options=EngineOptions(bucket_seconds=1.0),
)
provider = TracerProvider(resource=Resource.create({"service.name": "shop"}))
provider.add_span_processor(rules.span_processor)
tracer = provider.get_tracer("prefork-app")
rules.start()


def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    failing = environ.get("PATH_INFO", "") == "/fail"
    with tracer.start_as_current_span("GET /checkout", kind=SpanKind.SERVER) as span:
        if failing:
            span.set_status(Status(StatusCode.ERROR))
    start_response("500 Internal Server Error" if failing else "200 OK", [("Content-Type", "text/plain")])
    return [f"{os.getpid()}\n".encode()]
