"""Every ``otel-secretary`` command in the docs runs, as written, against real components.

Commands are read from README.md, docs/*.md and docs/runbooks/*.md:

* every line of a fenced shell block that starts with ``otel-secretary`` (or ``curl`` against Jaeger's
  query port) is **run** through ``bash`` in a scratch folder, placeholders (``<fingerprint>``,
  ``<silence-id>``, ``…``) filled with real values, and must exit as documented without a traceback;
* an inline ``otel-secretary …`` span is run the same way when it is a complete command (it has
  arguments, or it is listed in :data:`RUN_INLINE`); a bare command named in prose (``otel-secretary
  alerts ack``, ``stack up|status|logs|down``) is run with ``--help``, which still fails on a command or
  option that does not exist (``--matcher`` did).

The world they run in: a scratch folder whose ``.otel-secretary/`` holds traces an instrumented
process really wrote, a real Alertmanager (``OTEL_SECRETARY_ALERTMANAGER_URL``) holding one alert and
one silence, and, when the Go-built programs exist, a real stack in ``./.stack`` on free ports with one
error trace in Jaeger. ``stack up`` as written would bind the default ports, so it runs against that
already-running folder, where it is documented to start nothing.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from otel_secretary.rules import render
from otel_secretary.stack import Stack, StackOptions, StackPorts
from otel_secretary.stack.binaries import BinaryNotFound, find
from otel_secretary.stack.components import COMPONENTS
from tests.support.alertmanager import iso, post_alert, running_alertmanager
from tests.support.polling import wait_for
from tests.support.processes import REPO, clean_env, free_port

DOCS = sorted([REPO / "README.md", *(REPO / "docs").glob("*.md"), *(REPO / "docs" / "runbooks").glob("*.md")])
SHELL_FENCES = {"", "bash", "sh", "shell", "console"}
JAEGER_DEFAULT = "http://127.0.0.1:16686"
#: Inline spans of three words that are complete commands (others of that size name a command in prose).
RUN_INLINE = {
    "otel-secretary config check",
    "otel-secretary config show",
    "otel-secretary dashboards render",
    "otel-secretary errors summary",
    "otel-secretary pii collector-config",
    "otel-secretary stack status",
}
#: Documented exit codes other than 0.
EXIT_CODES: dict[str, int] = {}
#: Commands that write generated files run in a fresh empty folder, where they must write, and only there
#: (so `rules render --service NAME` cannot leave the scratch folder's rules stale for `rules check`).
WRITERS = (
    "otel-secretary rules render",
    "otel-secretary rules alertmanager",
    "otel-secretary dashboards render",
    "otel-secretary pii collector-config",
)
#: Runs last: it stops the stack the other commands use.
LAST = ("otel-secretary stack down",)


@dataclass(frozen=True)
class DocCommand:
    where: str  # file:line
    text: str
    mode: str  # "run" or "help"

    @property
    def needs_stack(self) -> bool:
        return self.text.startswith(("otel-secretary stack", "curl"))


def _strip_comment(line: str) -> str:
    """``otel-secretary alerts list   # what fires`` without its comment (no command here quotes a #)."""
    return re.sub(r"\s+#\s.*$", "", line).strip()


def extract(paths: list[Path] = DOCS) -> list[DocCommand]:
    commands: list[DocCommand] = []
    for path in paths:
        text = path.read_text(encoding="utf-8")
        name = str(path.relative_to(REPO))
        for match in re.finditer(r"^([ \t]*)```(\w*)\n(.*?)^[ \t]*```", text, re.S | re.M):
            if match.group(2) not in SHELL_FENCES:
                continue
            first = text.count("\n", 0, match.start(3)) + 1
            for offset, raw in enumerate(match.group(3).splitlines()):
                line = raw.strip().removeprefix("$ ")
                if line.startswith("otel-secretary ") or (line.startswith("curl ") and ":16686" in line):
                    commands.append(DocCommand(f"{name}:{first + offset}", _strip_comment(line), "run"))
        prose = re.sub(r"```.*?```", lambda m: "\n" * m.group(0).count("\n"), text, flags=re.S)
        for match in re.finditer(r"`(otel-secretary [^`]+)`", prose):
            line = prose.count("\n", 0, match.start()) + 1
            span = " ".join(match.group(1).split())
            commands.extend(_inline(f"{name}:{line}", span))
    return _once_each(commands)


def _once_each(commands: list[DocCommand]) -> list[DocCommand]:
    """One test per distinct command, naming every place it is documented; run beats help."""
    merged: dict[str, DocCommand] = {}
    for command in commands:
        seen = merged.get(command.text)
        if seen is None:
            merged[command.text] = command
            continue
        mode = "run" if "run" in (seen.mode, command.mode) else "help"
        merged[command.text] = DocCommand(f"{seen.where}, {command.where}", command.text, mode)
    return list(merged.values())


def _inline(where: str, span: str) -> list[DocCommand]:
    words = span.split(" ")
    if "|" in span:  # `stack up|status|logs|down`: a list of commands, each checked to exist
        head = " ".join(words[:-1])
        return [DocCommand(where, f"{head} {alt}", "help") for alt in re.split(r"\\?\|", words[-1])]
    complete = span in RUN_INLINE or (len(words) > 3 and not words[-1].startswith("-"))
    return [DocCommand(where, span, "run" if complete else "help")]


COMMANDS = extract()
COMMANDS.sort(key=lambda c: c.text.startswith(LAST))


def test_the_docs_document_commands() -> None:
    """A guard for the extractor itself: the docs' known commands are all found."""
    texts = {c.text for c in COMMANDS}
    assert 'otel-secretary alerts silence alertname=<name> --duration 1h --comment "working on it"' in texts
    assert "otel-secretary stack logs otelcol -n 100" in texts
    assert any("api/traces?service=ai-secretary&tags=%7B%22app.error.fingerprint" in t for t in texts)
    assert len(COMMANDS) > 30


# --- the world the commands run in ---------------------------------------------------------------------


@dataclass
class World:
    folder: Path
    env: dict[str, str]
    values: dict[str, str]
    jaeger_url: str | None
    error_trace_id: str | None


EMIT = textwrap.dedent(
    """
    from opentelemetry import trace
    from otel_secretary import configure
    from otel_secretary.errors import record_exception

    handle = configure()
    tracer = trace.get_tracer("docs")
    with tracer.start_as_current_span("GET /docs-example", kind=trace.SpanKind.SERVER) as span:
        span.set_attribute("enduser.email", "docs.reader@example.com")
        try:
            raise TimeoutError("upstream timed out for docs.reader@example.com")
        except TimeoutError as exc:
            info = record_exception(span, exc, system="docs-upstream")
        print(format(span.get_span_context().trace_id, "032x"), info.fingerprint)
    handle.shutdown()
    """
)


def _emit(folder: Path, **env: str) -> tuple[str, str]:
    """Run a small instrumented process that fails one request; its trace id and error fingerprint."""
    result = subprocess.run(
        [sys.executable, "-c", EMIT],
        cwd=folder,
        env=clean_env(OTEL_SERVICE_NAME="ai-secretary", OTEL_SECRETARY_PROMETHEUS_PORT="0", **env),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    trace_id, fingerprint = result.stdout.split()
    return trace_id, fingerprint


def _stack_binaries() -> bool:
    try:
        for component in COMPONENTS:
            find(component.binary)
    except BinaryNotFound:
        return False
    return True


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    folder = tmp_path_factory.mktemp("docs-world")
    _, error_fingerprint = _emit(
        folder
    )  # the embedded default: .otel-secretary/traces.jsonl, as the app writes it
    assert (folder / ".otel-secretary" / "traces.jsonl").is_file()
    (folder / "am").mkdir()
    nowhere = f"127.0.0.1:{free_port()}"  # receivers on a closed local port: nothing leaves the machine
    options = render.AlertmanagerOptions(
        slack_url=f"http://{nowhere}/slack",
        pagerduty_url=f"http://{nowhere}/pagerduty",
        smtp_smarthost=nowhere,
    )
    cleanup = ExitStack()
    am_url = cleanup.enter_context(running_alertmanager(folder / "am", options, ready_within=20))
    now = time.time()
    labels = {"alertname": "DocsExample", "severity": "ticket", "service_name": "ai-secretary"}
    post_alert(am_url, labels, summary="docs", lasting=900, now=now)
    assert wait_for(lambda: httpx.get(f"{am_url}/api/v2/alerts", timeout=5).json(), 10)
    alert_fingerprint = httpx.get(f"{am_url}/api/v2/alerts", timeout=5).json()[0]["fingerprint"]
    silence = {
        "matchers": [{"name": "alertname", "value": "DocsSilenced", "isRegex": False, "isEqual": True}],
        "startsAt": iso(now),
        "endsAt": iso(now + 900),
        "createdBy": "docs-test",
        "comment": "to expire",
    }
    silence_id = httpx.post(f"{am_url}/api/v2/silences", json=silence, timeout=5).json()["silenceID"]
    env = clean_env(
        OTEL_SECRETARY_ALERTMANAGER_URL=am_url,
        PAGERDUTY_ROUTING_KEY="TESTKEY00000000000000000000000000",
        PYTHONDONTWRITEBYTECODE="1",
        COLUMNS="250",  # a wide terminal: tables keep a fingerprint on one line
    )
    env["PATH"] = f"{env['PATH']}{os.pathsep}/usr/local/go/bin"
    values = {
        "<fingerprint>": alert_fingerprint,
        "<silence-id>": silence_id,
        "<error-fingerprint>": error_fingerprint,
        "embedded error fingerprint": error_fingerprint,  # not a placeholder: what `errors summary` must list
        "<name>": "DocsExample",
        "--out …": "--out am.yml",
        "--slack-url …": f"--slack-url http://127.0.0.1:{free_port()}/slack",
        "--pagerduty-routing-key …": "--pagerduty-routing-key TESTKEY00000000000000000000000000",
        '"$PAGERDUTY_ROUTING_KEY" …': '"$PAGERDUTY_ROUTING_KEY"',
        "[-o json]": "-o json",
        "[-o table|json]": "-o table",
        '"text"': '"call +1 202-555-0143 or write to docs.reader@example.com"',
    }
    rendered = subprocess.run(
        ["otel-secretary", "rules", "render"],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )  # so `rules check` finds generated files whichever documented command runs first
    assert rendered.returncode == 0, rendered.stderr
    try:
        yield World(folder, env, values, None, None)
    finally:
        cleanup.close()


@pytest.fixture(scope="module")
def stack(world: World) -> Iterator[Stack]:
    """A real stack in ``./.stack`` (free ports) with one error trace in Jaeger; its absence fails, in CI."""
    if not _stack_binaries():
        pytest.skip("stack programs not built (scripts/build-go-tools.sh)")
    running = Stack(
        world.folder / ".stack",
        StackPorts.free(),
        options=StackOptions(
            collector_overrides={
                "processors": {
                    "tail_sampling": {
                        "decision_wait": "1s",
                        "policies": [{"name": "all", "type": "always_sample"}],
                    },
                    "batch": {"timeout": "200ms"},
                }
            }
        ),
    )
    try:
        running.up(build=False, timeout=90)
        app_folder = world.folder / "stack-app"
        app_folder.mkdir()
        trace_id, fingerprint = _emit(
            app_folder,
            OTEL_EXPORTER_OTLP_ENDPOINT=running.otlp_http_endpoint,
            OTEL_EXPORTER_OTLP_PROTOCOL="http/protobuf",
        )
        jaeger_url = running.jaeger_url
        assert wait_for(
            lambda: trace_id in httpx.get(f"{jaeger_url}/api/traces/{trace_id}", timeout=5).text, 60
        )
        world.jaeger_url, world.error_trace_id = jaeger_url, trace_id
        world.values["<trace-id>"] = trace_id
        world.values["<error-fingerprint>"] = fingerprint
        world.values[JAEGER_DEFAULT] = jaeger_url
        yield running
    finally:
        Stack(world.folder / ".stack").down()


def _fill(text: str, values: dict[str, str]) -> str:
    for placeholder, value in sorted(values.items(), key=lambda kv: -len(kv[0])):
        text = text.replace(placeholder, value)
    assert "<" not in text.replace("<<", "") and "…" not in text, f"unfilled placeholder in {text!r}"
    return text


def test_the_local_stacks_jaeger_serves_a_placeholder_not_the_ui(world: World, stack: Stack) -> None:
    """What docs/stack.md and docs/incident-response.md say: the UI is in the container image only."""
    page = httpx.get(f"{world.jaeger_url}/", timeout=5)
    assert "placeholder for the Jaeger UI" in page.text, page.text[:500]


@pytest.mark.parametrize(
    "command", COMMANDS, ids=[f"{c.where.split(',')[0]} {c.text[:60]}" for c in COMMANDS]
)
def test_documented_command(
    command: DocCommand, world: World, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    if command.needs_stack and command.mode == "run":
        request.getfixturevalue("stack")
    if "| jq" in command.text and shutil.which("jq") is None:
        pytest.skip("jq (apt: jq) not installed")
    text = _fill(command.text, world.values)
    option = None
    if command.mode == "help":
        # `errors summary --window` names an option in prose: check it exists in the command's help.
        text, _, option = text.rpartition(" ") if text.split(" ")[-1].startswith("-") else (text, "", None)
        text = f"{text} --help"
    writer = command.mode == "run" and command.text.startswith(WRITERS)
    cwd = tmp_path if writer else world.folder
    result = subprocess.run(
        ["bash", "-c", text], cwd=cwd, env=world.env, capture_output=True, text=True, timeout=300
    )
    shown = f"{command.where}: `{text}` exited {result.returncode}\n"
    shown += f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    assert result.returncode == EXIT_CODES.get(command.text, 0), shown
    assert "Traceback" not in result.stderr, shown
    if writer:  # the output lands under the folder the command ran in
        assert [p for p in tmp_path.rglob("*") if p.is_file()], shown
    if command.mode == "help":
        assert "Usage: otel-secretary" in result.stdout, shown
        assert option is None or option in result.stdout, shown
    else:
        _check_output(command.text, result.stdout, world)


def _check_output(text: str, stdout: str, world: World) -> None:
    """What a reader is promised, beyond the exit code, for the commands whose output says it."""
    if text.startswith("otel-secretary alerts silence"):
        assert re.fullmatch(r"[0-9a-f-]{36}\n", stdout), stdout
    elif text.startswith("otel-secretary alerts list"):
        assert "DocsExample" in stdout
    elif text.startswith("otel-secretary alerts expire"):
        assert stdout.strip() == f"expired {world.values['<silence-id>']}"
    elif text.startswith("otel-secretary stack status"):
        assert stdout.count("running") >= 4, stdout
    elif text.startswith("otel-secretary pii mask"):
        assert "example.com" not in stdout and "555" not in stdout and "<email>" in stdout
    elif text.startswith("otel-secretary errors summary"):
        assert world.values["embedded error fingerprint"] in stdout, stdout
    elif text.startswith("curl") and "| jq" in text:
        assert world.error_trace_id in stdout.split(), stdout
    elif text.startswith("curl") and text.endswith("/api/services'"):
        assert "ai-secretary" in json.loads(stdout)["data"], stdout[:2000]
    elif text.startswith("curl") and "/api/traces" in text:
        data = json.loads(stdout)["data"]
        assert world.error_trace_id in {t["traceID"] for t in data}, stdout[:2000]
