"""User-supplied detectors (``OTEL_SECRETARY_PII_EXTRA_PATTERNS``), checked before they can run.

A user regex runs on the export path and is copied into the Collector config, so at load time each one
must be RE2-compatible (no lookarounds, no backreferences) and unable to backtrack catastrophically (no
nested quantifiers, no alternation under a quantifier, no unbounded repeats). Logfire lets ``(a+)+$``
stall the app thread for seconds (pydantic/logfire#2235); we refuse such a pattern with its file and line.

File format::

    patterns:
      - name: employee_id        # unique, [a-z0-9_]
        kind: employee_id        # placeholder becomes <employee_id>
        pattern: 'EMP-\\d{6}'
        trigger: 'EMP-'          # optional literal that every match contains (enables the fast path)
"""

from __future__ import annotations

import re
from pathlib import Path
from re import _constants as sre_constants  # type: ignore[attr-defined]
from re import _parser as sre_parse  # type: ignore[attr-defined]
from typing import Any

import yaml

from otel_secretary.config_error import ConfigError
from otel_secretary.pii._detectors import Detector

_NAME = re.compile(r"[a-z][a-z0-9_]{0,30}")
_REPEATS = (sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT, sre_constants.POSSESSIVE_REPEAT)
_LOOKAROUNDS = (sre_constants.ASSERT, sre_constants.ASSERT_NOT)
_BACKREFS = (sre_constants.GROUPREF, sre_constants.GROUPREF_EXISTS)


class PatternError(ConfigError):
    """A user pattern that is refused; the message names file, line, pattern and the reason."""


def check_pattern(pattern: str) -> None:
    """Raise ``ValueError`` naming why ``pattern`` could backtrack catastrophically or fail under RE2."""
    try:
        parsed = sre_parse.parse(pattern)
    except re.error as exc:
        raise ValueError(f"not a valid regular expression: {exc}") from None
    _check_items(list(parsed), inside_repeat=False)


def _check_items(items: list[tuple[Any, Any]], inside_repeat: bool) -> None:
    for op, av in items:
        if op in _LOOKAROUNDS:
            raise ValueError("lookarounds are not supported by RE2 (the Collector's engine)")
        if op in _BACKREFS:
            raise ValueError("backreferences are not supported by RE2 and can backtrack exponentially")
        if op in _REPEATS:
            _low, high, sub = av
            if high == sre_constants.MAXREPEAT:
                raise ValueError("unbounded repeat (+, * or {n,}): give an upper bound such as {1,256}")
            if high > 1 and inside_repeat:
                raise ValueError("nested quantifier (like (a+)+): it can backtrack catastrophically")
            _check_items(list(sub), inside_repeat=inside_repeat or high > 1)
        elif op is sre_constants.BRANCH:
            if inside_repeat:
                raise ValueError("alternation under a quantifier (like (a|ab)*) is ambiguous; rewrite it")
            for branch in av[1]:
                _check_items(list(branch), inside_repeat)
        elif op is sre_constants.SUBPATTERN:
            _check_items(list(av[-1]), inside_repeat)
        elif op in (sre_constants.ATOMIC_GROUP,):
            _check_items(list(av), inside_repeat)


def load_patterns(path: Path) -> tuple[Detector, ...]:
    """Parse and check a patterns file; the first refused entry raises :class:`PatternError`."""
    try:
        root = yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except (OSError, yaml.YAMLError) as exc:
        raise PatternError(f"{path}: cannot read PII patterns: {exc}") from None
    entries = _entries(root, path)
    detectors: list[Detector] = []
    seen: set[str] = set()
    for node in entries:
        line = node.start_mark.line + 1
        where = f"{path}:{line}"
        if not isinstance(node, yaml.MappingNode):
            raise PatternError(f"{where}: each pattern must be a mapping with name, kind and pattern")
        fields = {key.value: value.value for key, value in node.value if isinstance(value, yaml.ScalarNode)}
        name, kind, pattern = fields.get("name", ""), fields.get("kind", ""), fields.get("pattern", "")
        for label, value in (("name", name), ("kind", kind)):
            if not _NAME.fullmatch(value):
                raise PatternError(f"{where}: {label} {value!r} must match [a-z][a-z0-9_]{{0,30}}")
        if name in seen:
            raise PatternError(f"{where}: duplicate pattern name {name!r}")
        seen.add(name)
        try:
            check_pattern(pattern)
        except ValueError as exc:
            raise PatternError(f"{where}: pattern {name!r} ({pattern!r}) refused: {exc}") from None
        trigger = fields.get("trigger", "")
        if trigger and trigger not in pattern.replace("\\", ""):
            raise PatternError(f"{where}: trigger {trigger!r} must be a literal part of the pattern")
        detectors.append(Detector(name, kind, pattern, family=f"extra:{trigger}"))
    return tuple(detectors)


def _entries(root: Any, path: Path) -> list[Any]:
    if root is None:
        return []
    if isinstance(root, yaml.MappingNode):
        for key, value in root.value:
            if key.value == "patterns" and isinstance(value, yaml.SequenceNode):
                return list(value.value)
    raise PatternError(f"{path}:1: expected a mapping with a 'patterns' list")
