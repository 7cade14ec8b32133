"""User patterns: refused at load time (with file and line) when they could backtrack or break RE2."""

from __future__ import annotations

from pathlib import Path

import pytest
from opentelemetry.sdk.metrics import MeterProvider

from otel_secretary.pii import Masker, PatternError, build_masker, check_pattern, load_patterns
from otel_secretary.settings import load_settings


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        (r"(a+)+$", "unbounded"),
        (r"(a{1,5}){1,5}", "nested quantifier"),
        (r"(?:\w{1,9}\s?){1,20}x", "nested quantifier"),
        (r"(?:a|ab){1,10}c", "alternation under a quantifier"),
        (r"(?<=x)y{1,3}", "lookarounds"),
        (r"(?!x)y", "lookarounds"),
        (r"(a)\1", "backreferences"),
        (r"EMP-\d+", "unbounded"),
        (r"[", "not a valid regular expression"),
    ],
)
def test_dangerous_patterns_are_refused(pattern: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        check_pattern(pattern)


@pytest.mark.parametrize(
    "pattern", [r"EMP-\d{6}", r"\bcase-[0-9a-f]{8}\b", r"(?:ZZ|YY)-\d{4}", r"[A-Z]{2}\d{1,3}"]
)
def test_safe_patterns_pass(pattern: str) -> None:
    check_pattern(pattern)


def test_refusal_names_file_line_and_pattern(tmp_path: Path) -> None:
    path = tmp_path / "patterns.yaml"
    path.write_text(
        "patterns:\n"
        "  - name: employee_id\n"
        "    kind: employee_id\n"
        "    pattern: 'EMP-\\d{6}'\n"
        "  - name: evil\n"
        "    kind: evil\n"
        "    pattern: '(a+)+$'\n"
    )
    with pytest.raises(PatternError) as info:
        load_patterns(path)
    message = str(info.value)
    assert f"{path}:5" in message and "'evil'" in message and "(a+)+$" in message


def test_extra_patterns_are_masked_with_their_own_placeholder(tmp_path: Path) -> None:
    path = tmp_path / "patterns.yaml"
    path.write_text(
        "patterns:\n"
        "  - name: employee_id\n"
        "    kind: employee_id\n"
        "    pattern: 'EMP-\\d{6}'\n"
        "    trigger: 'EMP-'\n"
        "  - name: ticket\n"
        "    kind: ticket\n"
        "    pattern: '\\bTCK[0-9]{5}\\b'\n"
    )
    settings = load_settings({"OTEL_SECRETARY_PII_EXTRA_PATTERNS": str(path)})
    masker = build_masker(settings, MeterProvider())
    masked = masker.mask_text("EMP-123456 opened TCK00042 for a@example.com")
    assert masked == "<employee_id> opened <ticket> for <email>"
    assert masker.mask_text(masked) == masked
    assert Masker(meter_provider=MeterProvider()).mask_text("EMP-123456") == "EMP-123456"


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ("patterns: [1]\n", "must be a mapping"),
        ("patterns:\n  - {name: Bad Name, kind: x, pattern: 'x'}\n", "name 'Bad Name'"),
        (
            "patterns:\n  - {name: a, kind: a, pattern: 'x'}\n  - {name: a, kind: a, pattern: 'y'}\n",
            "duplicate",
        ),
        ("patterns:\n  - {name: a, kind: a, pattern: 'x{1,3}', trigger: 'zz'}\n", "trigger"),
        ("- just a list\n", "expected a mapping"),
    ],
)
def test_malformed_files_are_refused(tmp_path: Path, body: str, error: str) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(body)
    with pytest.raises(PatternError, match=error):
        load_patterns(path)
