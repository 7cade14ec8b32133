"""``otel-secretary config check`` as a preflight: the real CLI, one bad file or setting per test.

Each case runs the installed console script in a fresh temporary folder with a clean environment and
asserts exit 2, exactly one ``error:`` line naming the variable or file (and line), and no traceback.
The same bad notification config is then fed to ``alerts test`` and to a real app start.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.processes import clean_env, venv_tool

CLI = venv_tool("otel-secretary")
GOOD_SPEC = """\
rules:
  - name: PreflightErrors
    kind: error_rate
    severity: ticket
    selector: {service: preflight-app}
    threshold: 0.05
    window: 5m
    annotations:
      summary: "{{ $labels.service_name }} is failing"
      runbook_url: docs/runbooks/error-rate.md
"""


def run(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CLI, *args], cwd=cwd, env=clean_env(**env), capture_output=True, text=True, timeout=120
    )


def errors(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("error:")]


def test_a_clean_environment_passes_and_writes_nothing(tmp_path: Path) -> None:
    result = run(["config", "check"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert "preflight OK" in result.stdout.splitlines()  # other lines (e.g. Sentry's) may follow
    for subject in ("settings:", "data folder:", "Sentry: off", "rule specs: ", "notify config: not set"):
        assert subject in result.stdout
    assert "sent nowhere" in result.stdout  # no channels while the in-process engine runs: said, not hidden
    assert list(tmp_path.iterdir()) == []  # the data folder is probed, not created


def test_good_files_are_read_with_the_apps_own_loaders(tmp_path: Path) -> None:
    (tmp_path / "notify.yaml").write_text(
        'channels:\n  - {name: s, type: slack, url: "${PREFLIGHT_SLACK_URL}"}\n'
        "  - {name: m, type: email, from: alerts@example.com, to: [ops@example.com]}\n"
    )
    (tmp_path / "prices.yaml").write_text("models:\n  gpt-4o-mini: {input: 0.15, output: 0.6}\n")
    (tmp_path / "patterns.yaml").write_text(
        "patterns:\n  - {name: ticket_ref, kind: ticket, pattern: 'TCK-[0-9]{6}', trigger: TCK-}\n"
    )
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "app.yml").write_text(GOOD_SPEC)
    result = run(
        ["config", "check"],
        tmp_path,
        OTEL_SECRETARY_NOTIFY_CONFIG="notify.yaml",
        PREFLIGHT_SLACK_URL="http://127.0.0.1:9/slack",
        OTEL_SECRETARY_PRICES_FILE="prices.yaml",
        OTEL_SECRETARY_PII_EXTRA_PATTERNS="patterns.yaml",
        OTEL_SECRETARY_RULES_DIR="rules",
        OTEL_SECRETARY_SENTRY_DSN="https://0123456789abcdef@sentry.example.com/42",
    )
    assert result.returncode == 0, result.stderr
    assert "notify config: 2 channel(s) (email, slack)" in result.stdout
    assert "1 model override(s)" in result.stdout and "1 pattern(s)" in result.stdout
    assert "1 rules OK in rules" in result.stdout  # a *.yml spec counts
    assert "host sentry.example.com, project 42" in result.stdout
    assert "0123456789abcdef" not in result.stdout + result.stderr


@dataclass(frozen=True)
class Case:
    """One bad input: files to write, environment to set, what the single error line must say."""

    id: str
    env: dict[str, str]
    expected: tuple[str, ...]
    files: dict[str, str] | None = None
    prepare: Callable[[Path], None] | None = None


def _file_not_folder(folder: Path) -> None:
    (folder / "plain-file").write_text("not a folder")


CASES = [
    Case(
        "missing-notify-config",
        {"OTEL_SECRETARY_NOTIFY_CONFIG": "notify.yaml"},
        ("OTEL_SECRETARY_NOTIFY_CONFIG=notify.yaml", "file not found"),
    ),
    Case(
        "notify-unset-variable",
        {"OTEL_SECRETARY_NOTIFY_CONFIG": "notify.yaml"},
        ("notify.yaml:3:", "channels[1]", "${PREFLIGHT_UNSET_URL}", "PREFLIGHT_UNSET_URL is not set"),
        files={
            "notify.yaml": "channels:\n  - {name: m, type: email, from: a@example.com, to: [b@example.com]}\n"
            '  - {name: s, type: slack, url: "${PREFLIGHT_UNSET_URL}"}\n'
        },
    ),
    Case(
        "notify-unknown-channel-type",
        {"OTEL_SECRETARY_NOTIFY_CONFIG": "notify.yaml"},
        ("notify.yaml:2:", "unknown type 'teams'", "email, slack, webhook, pagerduty"),
        files={"notify.yaml": "channels:\n  - {name: t, type: teams, url: http://127.0.0.1:9/}\n"},
    ),
    Case(
        "notify-missing-field",
        {"OTEL_SECRETARY_NOTIFY_CONFIG": "notify.yaml"},
        ("notify.yaml:2:", "channels[0]: missing url"),
        files={"notify.yaml": "channels:\n  - {name: s, type: slack}\n"},
    ),
    Case(
        "notify-invalid-yaml",
        {"OTEL_SECRETARY_NOTIFY_CONFIG": "notify.yaml"},
        ("notify.yaml:3:", "invalid YAML", "expected ',' or '}'"),
        files={"notify.yaml": "channels:\n  - {name: s, type: slack}\n  - {name: t, type: slack]\n"},
    ),
    Case(
        "notify-misspelt-key",
        {"OTEL_SECRETARY_NOTIFY_CONFIG": "notify.yaml"},
        ("notify.yaml", "unknown top-level key(s) 'chanels'"),
        files={"notify.yaml": "chanels:\n  - {name: s, type: slack, url: http://127.0.0.1:9/}\n"},
    ),
    Case(
        "missing-patterns-file",
        {"OTEL_SECRETARY_PII_EXTRA_PATTERNS": "patterns.yaml"},
        ("OTEL_SECRETARY_PII_EXTRA_PATTERNS=patterns.yaml", "file not found"),
    ),
    Case(
        "catastrophic-pattern",
        {"OTEL_SECRETARY_PII_EXTRA_PATTERNS": "patterns.yaml"},
        ("OTEL_SECRETARY_PII_EXTRA_PATTERNS", "patterns.yaml:2", "pattern 'slow' ('(a+)+b') refused"),
        files={"patterns.yaml": "patterns:\n  - {name: slow, kind: slow, pattern: '(a+)+b'}\n"},
    ),
    Case(
        "missing-prices-file",
        {"OTEL_SECRETARY_PRICES_FILE": "prices.yaml"},
        ("OTEL_SECRETARY_PRICES_FILE=prices.yaml", "file not found"),
    ),
    Case(
        "non-numeric-price",
        {"OTEL_SECRETARY_PRICES_FILE": "prices.yaml"},
        ("OTEL_SECRETARY_PRICES_FILE", "prices.yaml", "'gpt-4o-mini' has a non-numeric price"),
        files={"prices.yaml": "models:\n  gpt-4o-mini: {input: cheap, output: 0.6}\n"},
    ),
    Case(
        "prices-invalid-json",
        {"OTEL_SECRETARY_PRICES_FILE": "prices.json"},
        ("OTEL_SECRETARY_PRICES_FILE", "prices.json: invalid JSON"),
        files={"prices.json": '{"models": {'},
    ),
    Case(
        "invalid-sentry-dsn",
        {"OTEL_SECRETARY_SENTRY_DSN": "https://sentry.example.com/42"},
        ("OTEL_SECRETARY_SENTRY_DSN (value not shown)", "Missing public key"),
    ),
    Case(
        "invalid-fallback-sentry-dsn",
        {"SENTRY_DSN": "ftp://k@sentry.example.com/42"},
        ("SENTRY_DSN (value not shown)", "Unsupported scheme 'ftp'"),
    ),
    Case(
        "data-folder-under-a-file",
        {"OTEL_SECRETARY_DATA_DIR": "plain-file/data"},
        ("OTEL_SECRETARY_DATA_DIR=plain-file/data", "cannot be created: plain-file is a file"),
        prepare=_file_not_folder,
    ),
    Case(
        "data-folder-is-a-file",
        {"OTEL_SECRETARY_DATA_DIR": "plain-file"},
        ("OTEL_SECRETARY_DATA_DIR=plain-file", "the data folder is a file"),
        prepare=_file_not_folder,
    ),
    Case(
        "data-folder-not-writable",
        {"OTEL_SECRETARY_DATA_DIR": "/proc/otel-secretary-data"},  # refused even to root
        ("OTEL_SECRETARY_DATA_DIR=/proc/otel-secretary-data", "not writable"),
    ),
    Case(
        "missing-rules-folder",
        {"OTEL_SECRETARY_RULES_DIR": "my-rules"},
        ("OTEL_SECRETARY_RULES_DIR", "my-rules: spec folder does not exist"),
    ),
    Case(
        "empty-rules-folder",
        {"OTEL_SECRETARY_RULES_DIR": "my-rules"},
        ("OTEL_SECRETARY_RULES_DIR", "my-rules: no rule specs here", "*.yaml or *.yml"),
        files={"my-rules/README.txt": "specs go here\n"},
    ),
    Case(
        "broken-rule-spec",
        {"OTEL_SECRETARY_RULES_DIR": "my-rules"},
        ("my-rules/app.yaml:6:", "threshold"),
        files={"my-rules/app.yaml": GOOD_SPEC.replace("threshold: 0.05", "threshold: lots")},
    ),
    Case(
        "invalid-setting",
        {"OTEL_SECRETARY_PROMETHEUS_PORT": "99999"},
        ("OTEL_SECRETARY_PROMETHEUS_PORT='99999'", "port number"),
    ),
    Case(
        "pseudonym-without-key",
        {"OTEL_SECRETARY_PII_MODE": "pseudonym"},
        ("OTEL_SECRETARY_PII_KEY=''", "OTEL_SECRETARY_PII_MODE=pseudonym"),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_each_bad_input_is_one_error_line(case: Case, tmp_path: Path) -> None:
    for name, text in (case.files or {}).items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    if case.prepare:
        case.prepare(tmp_path)
    result = run(["config", "check"], tmp_path, **case.env)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    (line,) = errors(result)
    for fragment in case.expected:
        assert fragment in line, line
    assert "1 problem(s)" in result.stdout


def test_every_problem_gets_its_own_line(tmp_path: Path) -> None:
    result = run(
        ["config", "check"],
        tmp_path,
        OTEL_SECRETARY_PROMETHEUS_PORT="http",
        OTEL_SECRETARY_ENABLED="maybe",
        OTEL_SECRETARY_NOTIFY_CONFIG="absent.yaml",
        OTEL_SECRETARY_PRICES_FILE="absent-prices.yaml",
        OTEL_SECRETARY_RULES_DIR="absent-rules",
    )
    assert result.returncode == 2
    lines = errors(result)
    assert len(lines) == 5, result.stderr
    for subject in ("PROMETHEUS_PORT", "ENABLED", "NOTIFY_CONFIG", "PRICES_FILE", "RULES_DIR"):
        assert sum(subject in line for line in lines) == 1, (subject, lines)


BAD_NOTIFY = 'channels:\n  - {name: s, type: slack, url: "${PREFLIGHT_UNSET_URL}"}\n'


def test_alerts_test_says_the_same_one_line(tmp_path: Path) -> None:
    (tmp_path / "notify.yaml").write_text(BAD_NOTIFY)
    result = run(["alerts", "test", "--local", "--notify-config", "notify.yaml"], tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        "error: notify.yaml:2: channels[0]: ${PREFLIGHT_UNSET_URL} is used but PREFLIGHT_UNSET_URL "
        "is not set in the environment"
    ]


def test_alerts_test_names_a_missing_config_file(tmp_path: Path) -> None:
    result = run(["alerts", "test", "--local", "--notify-config", "absent.yaml"], tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip() == (
        "error: absent.yaml: cannot read the notification config: No such file or directory"
    )


APP = textwrap.dedent(
    """
    import os
    from otel_secretary import configure

    configure()
    pid = os.fork()  # a prefork server's worker: the engine reloads its channels in the child
    if pid == 0:
        print("worker ran", flush=True)
        os._exit(0)
    os.waitpid(pid, 0)
    print("app ran", flush=True)
    """
)


def test_app_start_says_once_that_alerts_go_nowhere(tmp_path: Path) -> None:
    (tmp_path / "notify.yaml").write_text(BAD_NOTIFY)
    result = subprocess.run(
        [sys.executable, "-c", APP],
        cwd=tmp_path,
        env=clean_env(
            OTEL_SERVICE_NAME="preflight-app",
            OTEL_SECRETARY_NOTIFY_CONFIG="notify.yaml",
            OTEL_SECRETARY_PROMETHEUS_PORT="0",
            OTEL_SECRETARY_SYSTEM_METRICS="false",
        ),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert sorted(result.stdout.split()) == sorted(["worker", "ran", "app", "ran"])
    assert "Traceback" not in result.stderr
    mentions = [line for line in result.stderr.splitlines() if "notify.yaml" in line]
    assert mentions == [
        "otel-secretary: alert notifications (alerts are still evaluated, but sent nowhere) disabled: "
        "notify.yaml:2: channels[0]: ${PREFLIGHT_UNSET_URL} is used but PREFLIGHT_UNSET_URL is not set "
        "in the environment"
    ]


def test_app_start_names_a_missing_rules_folder_instead_of_evaluating_nothing(tmp_path: Path) -> None:
    result = subprocess.run(
        [venv_tool("opentelemetry-instrument"), sys.executable, "-c", "print('app ran')"],
        cwd=tmp_path,
        env=clean_env(
            OTEL_SERVICE_NAME="preflight-app",
            OTEL_SECRETARY_RULES_DIR="my-rules",
            OTEL_SECRETARY_PROMETHEUS_PORT="0",
            OTEL_SECRETARY_SYSTEM_METRICS="false",
        ),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (result.returncode, result.stdout) == (0, "app ran\n"), result.stderr
    assert "Traceback" not in result.stderr
    assert [line for line in result.stderr.splitlines() if "my-rules" in line] == [
        "otel-secretary: in-process alert rules disabled: "
        "OTEL_SECRETARY_RULES_DIR: my-rules: spec folder does not exist"
    ]


def test_a_collector_deployment_is_not_held_to_the_embedded_defaults_files(tmp_path: Path) -> None:
    """With an OTLP endpoint the app writes no trace files and runs no in-process rules: not problems."""
    _file_not_folder(tmp_path)
    result = run(
        ["config", "check"],
        tmp_path,
        OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:4318",
        OTEL_SECRETARY_DATA_DIR="plain-file/data",
    )
    assert result.returncode == 0, result.stderr
    assert "data folder: not used (an OTLP endpoint is set)" in result.stdout
    assert "(not evaluated in-process here)" in result.stdout
    assert "sent nowhere" not in result.stdout
