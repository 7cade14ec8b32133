"""A tiny instrumented program for the fault tests: ``configure()``, N spans in flushed batches, one
log line per batch, then the app's own ``/metrics``. Run as a subprocess so file-size limits, mounts
and stderr are those of a real process. Prints one JSON line: {"metrics": <text of /metrics>}.

Environment: FAULT_SPANS, FAULT_BATCH (spans per flush), FAULT_FSIZE (optional RLIMIT_FSIZE in bytes),
FAULT_BIG (add one span with 200 extra attributes and a 10 MB value),
plus the usual OTEL_* / OTEL_SECRETARY_* settings.
"""

from __future__ import annotations

import json
import logging
import os
import resource
import urllib.request

limit = os.environ.get("FAULT_FSIZE")
if limit:
    # The "disk" ends here for every file this process writes; Python ignores SIGXFSZ, so a write
    # past it fails with EFBIG after a short write, as on a full disk.
    resource.setrlimit(resource.RLIMIT_FSIZE, (int(limit), int(limit)))

from opentelemetry import trace  # noqa: E402

from otel_secretary import configure  # noqa: E402

handle = configure()
tracer = trace.get_tracer("fault-driver")
log = logging.getLogger("fault-driver")
spans, batch = int(os.environ["FAULT_SPANS"]), int(os.environ.get("FAULT_BATCH", "10"))
for i in range(spans):
    with tracer.start_as_current_span(f"work {i % 5}") as span:
        span.set_attribute("fault.index", i)
        span.set_attribute("fault.payload", "x" * 300)
    if (i + 1) % batch == 0:
        log.warning("batch %d done", i // batch)
        handle.force_flush(20_000)
if os.environ.get("FAULT_BIG"):
    # One oversized span: 200 extra attributes and a 10 MB value (what a pasted document can be).
    with tracer.start_as_current_span("huge") as span:
        for i in range(200):
            span.set_attribute(f"extra.{i}", i)
        span.set_attribute("synthetic.document", "z" * 10_000_000)
handle.force_flush(20_000)
metrics = ""
if os.environ.get("OTEL_METRICS_EXPORTER", "prometheus") == "prometheus":
    port = os.environ["OTEL_SECRETARY_PROMETHEUS_PORT"]
    metrics = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
print(json.dumps({"metrics": metrics}), flush=True)
handle.shutdown()  # with OTLP metrics, this exports the final counts
