"""Selector and matcher regexes with RE2 semantics, the same on the engine side and the Prometheus side.

Prometheus (Go's regexp) is RE2: no lookaround, no backreferences, linear-time matching. The engine
matches with Google's RE2 bindings too, so a span name matches in the app exactly when it matches in
PromQL, and no pattern can block a request thread. ``rules validate`` additionally refuses patterns that
would backtrack catastrophically in a backtracking engine (nested quantifiers such as ``(a+)+``): they are
almost always a mistake, and a copy of the spec may end up in one (Python's ``re``, a log pipeline).
"""

from __future__ import annotations

import functools
import re
from typing import Any

import re2

from otel_secretary.config_error import ConfigError

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # errors are raised and reported with file:line, not logged by the C++ side


class RegexError(ConfigError):
    """A pattern refused for Prometheus/RE2 or for catastrophic backtracking; the message says why."""


@functools.lru_cache(maxsize=1024)
def compile_re2(pattern: str) -> Any:
    """Anchored as PromQL's ``=~`` is: the whole value must match."""
    try:
        return re2.compile(f"(?:{pattern})", _OPTIONS)
    except re2.error as exc:
        raise RegexError(f"RE2 (Prometheus) rejects it: {_decode(exc)}") from None


def fullmatch(pattern: str, value: str) -> bool:
    return compile_re2(pattern).fullmatch(value) is not None


def check(pattern: str) -> None:
    """Raise :class:`RegexError` unless promtool would accept ``pattern`` and it cannot backtrack."""
    if "\n" in pattern or "\r" in pattern:
        raise RegexError("contains a newline (a label matcher in a rule file must be one line)")
    compile_re2(pattern)
    try:
        parsed = re._parser.parse(pattern)  # type: ignore[attr-defined]
    except re.error as exc:
        raise RegexError(f"not a valid regex: {exc}") from None
    nested = _nested_repeat(parsed, inside=False)
    if nested:
        raise RegexError(
            f"nested quantifier {nested!r} can backtrack catastrophically; "
            "write the repetition once (e.g. a+ instead of (a+)+)"
        )


def _decode(exc: BaseException) -> str:
    text = str(exc.args[0] if exc.args else exc)
    return text[2:-1] if text.startswith(("b'", 'b"')) else text


_REPEATS = {"MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"}


def _nested_repeat(pattern: Any, *, inside: bool) -> str:
    """The first unbounded-ish repeat found inside another repeat, as text, or ''."""
    for op, arg in pattern:
        name = str(op)
        if name in _REPEATS:
            low, high, sub = arg
            repeats = high is re._constants.MAXREPEAT or high > 1  # type: ignore[attr-defined]
            if repeats and inside:
                return f"{{{low},{'' if high is re._constants.MAXREPEAT else high}}} inside a repeat"  # type: ignore[attr-defined]
            found = _nested_repeat(sub, inside=inside or repeats)
            if found:
                return found
        elif name == "SUBPATTERN":
            found = _nested_repeat(arg[-1], inside=inside)
            if found:
                return found
        elif name == "BRANCH":
            for branch in arg[1]:
                found = _nested_repeat(branch, inside=inside)
                if found:
                    return found
        elif name == "ATOMIC_GROUP":
            found = _nested_repeat(arg, inside=inside)
            if found:
                return found
    return ""
