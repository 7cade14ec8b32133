"""The Collector config is generated from the same pattern set, is valid RE2, stays in sync with the
committed file, and really masks what an un-instrumented sender lets through."""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
import yaml
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from typer.testing import CliRunner

from otel_secretary.cli import app
from otel_secretary.pii import DETECTORS, Detector, collector_config
from otel_secretary.stack import binaries
from tests.pii.conftest import load_corpus
from tests.support.otlp_receiver import OtlpReceiver

REPO = Path(__file__).resolve().parents[2]
GENERATED = REPO / collector_config.DEFAULT_PATH
LOOKAROUND = re.compile(r"\(\?<?[=!]")


def _processor(text: str) -> dict[str, object]:
    processor: dict[str, object] = yaml.safe_load(text)["processors"][collector_config.PROCESSOR]
    return processor


def test_committed_file_is_up_to_date() -> None:
    """Regenerate with `make generate` (otel-secretary generate) after changing a detector."""
    assert GENERATED.read_text(encoding="utf-8") == collector_config.render(), (
        "generated/pii-redaction.yaml is stale: run `make generate` (otel-secretary generate)"
    )


def test_every_emitted_regex_is_re2_compatible() -> None:
    processor = _processor(collector_config.render(transform=True))
    patterns = [*processor["blocked_values"], *processor["blocked_key_patterns"]]  # type: ignore[misc]
    assert len(patterns) == sum(detector.collector for detector in DETECTORS) + 2
    for pattern in patterns:
        assert not LOOKAROUND.search(pattern)
        assert not re.search(r"\\[1-9]", pattern)
        assert all(int(count) <= 1000 for count in re.findall(r"\{\d+,(\d+)\}", pattern)), pattern
        re.compile(pattern)


def test_refuses_to_emit_lookarounds() -> None:
    bad = Detector("lookahead", "secret", r"(?=x)abc")
    with pytest.raises(collector_config.NotRE2):
        collector_config.render((*DETECTORS, bad))


def test_a_pattern_added_in_python_appears_in_the_config() -> None:
    added = Detector("employee_badge", "badge", r"\bBADGE-[0-9]{6}\b", family="extra:BADGE-")
    processor = _processor(collector_config.render((*DETECTORS, added)))
    assert r"\bBADGE-[0-9]{6}\b" in processor["blocked_values"]  # type: ignore[operator]


def test_cli_writes_config_with_extra_patterns(tmp_path: Path) -> None:
    extra = tmp_path / "extra.yaml"
    extra.write_text("patterns:\n  - {name: ticket, kind: ticket, pattern: 'TCK[0-9]{5}'}\n")
    output = tmp_path / "out.yaml"
    result = CliRunner().invoke(
        app,
        ["pii", "collector-config", "--output", str(output), "--extra-patterns", str(extra), "--no-mask-ip"],
    )
    assert result.exit_code == 0, result.output
    values = _processor(output.read_text())["blocked_values"]
    assert "TCK[0-9]{5}" in values  # type: ignore[operator]
    ipv4 = next(d for d in DETECTORS if d.name == "ipv4").rendered_collector_pattern
    assert ipv4 not in values  # type: ignore[operator]


def test_collector_patterns_catch_the_structured_corpus() -> None:
    """Without validators the Collector is coarser, but every positive value is still caught."""
    processor = _processor(collector_config.render())
    values = [re.compile(p) for p in processor["blocked_values"]]  # type: ignore[union-attr]
    leaks = []
    for case in load_corpus():
        text = case["text"]
        for regex in values:
            text = regex.sub("****", text)
        leaks += [(case["id"], value) for value in case["pii"] if value in text]
    assert not leaks


@pytest.mark.integration
def test_go_regexp_compiles_every_pattern(tmp_path: Path) -> None:
    go = shutil.which("go")
    if go is None:
        pytest.skip("go toolchain not installed")
    program = tmp_path / "main.go"
    program.write_text(
        'package main\nimport ("bufio"; "fmt"; "os"; "regexp")\n'
        "func main() {\n s := bufio.NewScanner(os.Stdin)\n s.Buffer(make([]byte, 1<<20), 1<<20)\n bad := 0\n"
        " for s.Scan() { if _, err := regexp.Compile(s.Text()); err != nil { fmt.Println(err); bad++ } }\n"
        " os.Exit(bad)\n}\n"
    )
    processor = _processor(collector_config.render())
    lines = "\n".join([*processor["blocked_values"], *processor["blocked_key_patterns"]])  # type: ignore[misc]
    result = subprocess.run(
        [go, "run", str(program)], input=lines, capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.integration
def test_collector_masks_what_a_raw_sender_lets_through(tmp_path: Path) -> None:
    try:
        otelcol = binaries.find("otelcol-secretary")
    except binaries.BinaryNotFound:
        pytest.skip("otelcol-secretary not built (scripts/build-go-tools.sh)")
    port = _free_port()
    with OtlpReceiver() as receiver:
        base = tmp_path / "otelcol.yaml"
        base.write_text(
            yaml.safe_dump(
                {
                    "receivers": {"otlp": {"protocols": {"http": {"endpoint": f"127.0.0.1:{port}"}}}},
                    "exporters": {"otlphttp": {"endpoint": receiver.endpoint, "compression": "none"}},
                    "service": {
                        "telemetry": {"metrics": {"level": "none"}},
                        "pipelines": {
                            "traces": {
                                "receivers": ["otlp"],
                                "processors": [collector_config.PROCESSOR],
                                "exporters": ["otlphttp"],
                            }
                        },
                    },
                }
            )
        )
        generated = collector_config.write(tmp_path / "pii-redaction.yaml")
        process = subprocess.Popen(
            [str(otelcol), "--config", str(base), "--config", str(generated)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_for_port(port, process)
            # A sender that bypasses our SDK: the plain upstream exporter, no masking in front.
            provider = TracerProvider(resource=Resource.create({"service.name": "raw-sender"}))
            provider.add_span_processor(
                SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"http://127.0.0.1:{port}/v1/traces"))
            )
            with provider.get_tracer("raw").start_as_current_span("raw") as span:
                span.set_attribute("customer", "mail jane.doe@example.com")
                span.set_attribute("payment", "card 4242 4242 4242 4242")
                span.set_attribute("http.request.header.authorization", "Bearer abcdefghij0123456789")
                span.set_attribute("http.route", "/api/v1/users/{id}")
            provider.shutdown()
            deadline = time.monotonic() + 20
            while not receiver.spans() and time.monotonic() < deadline:
                time.sleep(0.1)
        finally:
            process.terminate()
            output = process.communicate(timeout=20)[0].decode(errors="replace")
        spans = receiver.spans()
        assert spans, output
        attributes = {kv.key: kv.value.string_value for kv in spans[0][1].attributes}
        assert "jane.doe@example.com" not in attributes["customer"]
        assert "4242" not in attributes["payment"]
        assert "abcdefghij" not in attributes["http.request.header.authorization"]
        assert attributes["http.route"] == "/api/v1/users/{id}"


def _wait_for_port(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(process.communicate()[0].decode(errors="replace"))
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError("collector did not start listening")
