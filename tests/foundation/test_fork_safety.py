"""Prefork servers: every worker exports its own spans exactly once, with its own identity.

Real gunicorn with two workers under ``opentelemetry-instrument``, exporting OTLP/HTTP to a loopback
receiver (the production shape: exporters are the part upstream leaves fork-unsafe), and a real
Celery prefork pool on the embedded default.
"""

from __future__ import annotations

import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.support.example_app import RunningExample, run_example
from tests.support.otlp_json import read_spans
from tests.support.otlp_receiver import OtlpReceiver

pytestmark = pytest.mark.integration
REQUESTS = 40


def summarize_slowly(example: RunningExample) -> int:
    body = {"subject": "s", "body": "b"}
    status, _ = example.request("POST", "/api/v1/emails/summarize", body, {"X-Fake-Fault": "slow:0.2"})
    return status


def server_spans(receiver: OtlpReceiver) -> list[tuple[dict[str, object], Any]]:
    return [(r, s) for r, s in receiver.spans() if s.kind == s.SPAN_KIND_SERVER]


def test_gunicorn_workers_each_export_every_span_once(tmp_path: Path) -> None:
    sent = 0
    with OtlpReceiver() as receiver:
        otel = {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint, "OTEL_METRIC_EXPORT_INTERVAL": "500"}
        with run_example(tmp_path, otel, with_worker=False, server="gunicorn", workers=2) as example:
            # Concurrent slow requests (the OpenAI stand-in answers after 0.2 s) keep both sync workers
            # busy; batches continue until both have served (the second may still be importing the app).
            with ThreadPoolExecutor(8) as pool:
                for _ in range(10):
                    statuses = list(pool.map(lambda _: summarize_slowly(example), range(REQUESTS // 2)))
                    assert statuses == [200] * (REQUESTS // 2)
                    sent += len(statuses)
                    time.sleep(0.5)
                    if sent >= REQUESTS and len({r["process.pid"] for r, _ in server_spans(receiver)}) >= 2:
                        break
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and len(server_spans(receiver)) < sent:
                time.sleep(0.2)
        time.sleep(0.5)
        servers = server_spans(receiver)
    span_ids = Counter(s.span_id for _, s in servers)
    assert len(servers) == sent, f"{len(servers)} server spans for {sent} requests"
    assert max(span_ids.values()) == 1, "a span was exported twice"
    pids = {r["process.pid"] for r, _ in servers}
    instances = {r["service.instance.id"] for r, _ in servers}
    assert len(pids) == 2, f"expected both workers to serve and export, saw pids {pids}"
    assert len(instances) == 2, "workers must not share service.instance.id (colliding metric series)"
    metric_pids = {
        kv.value.int_value
        for request in receiver.requests["/v1/metrics"]
        for rm in request.resource_metrics
        for kv in rm.resource.attributes
        if kv.key == "process.pid"
    }
    assert pids <= metric_pids, "each worker pushes its own metrics after fork"


def test_celery_prefork_children_export_each_task_once(tmp_path: Path) -> None:
    with run_example(tmp_path, workers=2) as example:
        for i in range(6):
            status, _ = example.request(
                "POST", "/api/v1/messages/inbound", {"sender": "s", "body": f"note {i}"}
            )
            assert status == 202
        deadline = time.monotonic() + 45
        tasks = []
        while time.monotonic() < deadline:
            spans = read_spans(example.data_dir / "traces.jsonl") if example.data_dir.exists() else []
            tasks = [s for s in spans if s.kind == 5 and "process_inbound_message" in s.name]
            if len(tasks) >= 6:
                break
            time.sleep(0.3)
    assert len(tasks) == 6
    assert len({t.span_id for t in tasks}) == 6
    worker_pid = example.worker.popen.pid if example.worker else None
    assert all(t.resource["process.pid"] != worker_pid for t in tasks), "tasks run in pool children"
