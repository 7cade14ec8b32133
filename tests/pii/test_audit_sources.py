"""``pii audit`` reads everything we export or keep: /metrics (URL or dump), JSON documents in the data
folder (kept notification payloads), nested keys of log attribute maps (issue 10, item 8)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from prometheus_client import CollectorRegistry, Counter, generate_latest
from typer.testing import CliRunner

from otel_secretary.cli.pii import app
from otel_secretary.pii import Masker, MaskingPrometheusMetricReader
from otel_secretary.pii.audit import audit_files, audit_url
from tests.support.http_server import serving

EMAIL = "jane.doe@example.com"
PHONE = "+44 20 7946 0958"
NAME = "Jane Doe"


def _raw_metrics() -> bytes:
    """What a second, unmasked Prometheus registry in the app would serve."""
    registry = CollectorRegistry()
    counter = Counter("emails_sent", "E-mails sent", ["recipient", "route"], registry=registry)
    counter.labels(recipient=EMAIL, route="/send").inc()
    return generate_latest(registry)


def _masked_metrics() -> bytes:
    """What our own masking reader serves for the same measurement."""
    registry = CollectorRegistry()
    reader = MaskingPrometheusMetricReader(Masker(meter_provider=MeterProvider()))
    registry.register(reader._collector)
    provider = MeterProvider(metric_readers=[reader])
    provider.get_meter("t").create_counter("emails_sent").add(1, {"recipient": EMAIL, "route": "/send"})
    text = generate_latest(registry)
    provider.shutdown()
    return text


@pytest.fixture
def metrics_server() -> Iterator[tuple[str, dict[str, bytes]]]:
    served: dict[str, bytes] = {"body": b""}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.end_headers()
            self.wfile.write(served["body"])

        def log_message(self, *args: object) -> None:
            return

    with serving(Handler) as url:
        yield f"{url}/metrics", served


def test_a_metrics_url_is_scraped_and_audited(metrics_server: tuple[str, dict[str, bytes]]) -> None:
    url, served = metrics_server
    served["body"] = _raw_metrics()
    report = audit_url(url, Masker(meter_provider=MeterProvider()))
    assert report.findings is not None
    # prometheus_client also exports the series' creation time, with the same labels.
    assert {(f.where, f.kinds) for f in report.findings} == {
        ("emails_sent_total{recipient}", ("email",)),
        ("emails_sent_created{recipient}", ("email",)),
    }
    served["body"] = _masked_metrics()
    clean = audit_url(url, Masker(meter_provider=MeterProvider()))
    assert clean.values > 0 and clean.clean, clean.findings


def test_the_cli_takes_urls_and_never_prints_the_value(metrics_server: tuple[str, dict[str, bytes]]) -> None:
    url, served = metrics_server
    served["body"] = _raw_metrics()
    result = CliRunner().invoke(app, ["audit", url], env={"COLUMNS": "200"})
    assert result.exit_code == 1, result.output
    assert "recipient" in result.output and EMAIL not in result.output


def test_a_metrics_dump_and_kept_notifications_in_the_data_folder(tmp_path: Path) -> None:
    (tmp_path / "metrics.prom").write_bytes(_raw_metrics())
    kept = {
        "pending": [
            {
                "url": "https://hooks.example.com/alert",
                "body": {"labels": {"alertname": "Bounce", "recipient": EMAIL}, "summary": f"call {PHONE}"},
            }
        ]
    }
    (tmp_path / "notify-failed.json").write_text(json.dumps(kept))
    (tmp_path / "rules-control.json").write_text(json.dumps({"silences": [{"matchers": {"route": "/send"}}]}))
    report = audit_files([tmp_path], Masker(meter_provider=MeterProvider()))
    assert report.files == 3
    found = {(Path(f.file).name, f.where, f.kinds) for f in report.findings or []}
    assert found == {
        ("metrics.prom", "emails_sent_total{recipient}", ("email",)),
        ("metrics.prom", "emails_sent_created{recipient}", ("email",)),
        ("notify-failed.json", ".pending[0].body.labels.recipient", ("email",)),
        ("notify-failed.json", ".pending[0].body.summary", ("phone",)),
    }


def test_nested_keys_of_log_attribute_maps_are_audited(tmp_path: Path) -> None:
    record = {
        "resourceLogs": [
            {
                "scopeLogs": [
                    {
                        "logRecords": [
                            {
                                "body": {"stringValue": "rsvp stored"},
                                "attributes": [
                                    {
                                        "key": "rsvp",
                                        "value": {
                                            "kvlistValue": {
                                                "values": [
                                                    {"key": EMAIL, "value": {"stringValue": "yes"}},
                                                    {"key": "customer", "value": {"kvlistValue": {"values": [
                                                        {"key": "full_name", "value": {"stringValue": NAME}}
                                                    ]}}},
                                                ]
                                            }
                                        },
                                    }
                                ],
                            }
                        ]
                    }
                ]
            }
        ]
    }  # fmt: skip
    path = tmp_path / "logs.jsonl"
    path.write_text(json.dumps(record) + "\n")
    report = audit_files([path], Masker(meter_provider=MeterProvider()))
    wheres = {(f.where.rsplit(".attributes", 1)[-1], f.kinds) for f in report.findings or []}
    assert wheres == {
        (f"[0].rsvp.{EMAIL}<key>", ("email",)),
        ("[0].rsvp.customer.full_name", ("name",)),
    }
