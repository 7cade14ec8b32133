"""Stable fingerprints: one value per bug, the same in every process, restart and deploy.

Input to the hash (sha256, first 16 hex digits kept — 64 bits is plenty for grouping):

* the exception type's full name, plus the type names of its ``__cause__``/``__context__`` chain;
* the *innermost in-app frame* as ``module:qualname``. In-app means not in site-packages, not in the
  standard library and not in otel_secretary itself (our wrappers must not change the group). When a
  traceback has no in-app frame, the innermost library frame is used instead. Only the innermost frame
  is kept on purpose: the raise site identifies the bug, while the callers are merely the paths that
  reached it (the trace shows those), so one bug reached from two views groups once. Line numbers
  never count, so edits elsewhere in a file do not split groups;
* the message with volatile parts replaced: timestamps, e-mails, UUIDs, hex, prefixed ids
  (``cus_…``, ``org-…``), long random tokens and numbers. For the hash every placeholder becomes
  ``<*>``: whether a caller passed an integer id or a UUID is not a different bug. Both the message
  normalisation and the frame choice use only deterministic string operations (no ``hash()``, which
  is salted per process).

This module must never raise: a fingerprint of the type alone is better than no fingerprint.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import sys
import sysconfig
import traceback
from types import TracebackType
from typing import Final

_MAX_MESSAGE: Final = 2000
_ANY_PLACEHOLDER: Final = re.compile(r"<(?:ts|email|uuid|hex|id|n)>")

# Order matters: timestamps and e-mails contain numbers, UUIDs contain hex.
_NORMALISERS: Final[tuple[tuple[re.Pattern[str], str], ...]] = (
    (
        re.compile(r"\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?"),
        "<ts>",
    ),
    (re.compile(r"\b\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?\b"), "<ts>"),
    (re.compile(r"[\w.+-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63})+"), "<email>"),
    (
        re.compile(r"\b[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}\b"),
        "<uuid>",
    ),
    (re.compile(r"\b0x[0-9a-fA-F]+\b"), "<hex>"),
    (re.compile(r"\b(?=[0-9a-fA-F]*[0-9])(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{8,}\b"), "<hex>"),
    # Stripe-style and similar prefixed ids: cus_NffrFeUfNV2Hib, org-AbCdEf123, req_abc.
    # The id part needs a digit or capital so plain words such as card_declined survive.
    (re.compile(r"\b[a-zA-Z]{2,8}[_-](?=[a-z]*[A-Z0-9])[A-Za-z0-9]{6,}\b"), "<id>"),
    # Long mixed tokens (api keys, request ids) even without a prefix.
    (re.compile(r"\b(?=[0-9]*[A-Za-z])(?=[A-Za-z]*[0-9])[A-Za-z0-9]{16,}\b"), "<id>"),
    # Grouped digits (cards "4242 4242 …", phones "555-0100", versions, IPs) are one value.
    (re.compile(r"\d+(?:[ .-]\d+)*"), "<n>"),
)


def normalise_message(message: str) -> str:
    """The message with ids, numbers, e-mails, UUIDs, hex and timestamps replaced by placeholders."""
    text = message[:_MAX_MESSAGE]
    for pattern, placeholder in _NORMALISERS:
        text = pattern.sub(placeholder, text)
    return " ".join(text.split())


def _library_roots() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    roots = {paths.get(k, "") for k in ("stdlib", "platstdlib", "purelib", "platlib")}
    roots.update(p for p in sys.path if p.endswith(("site-packages", "dist-packages")))
    roots.add(os.path.dirname(os.__file__))
    return tuple(sorted(os.path.normcase(os.path.realpath(r)) + os.sep for r in roots if r))


_LIBRARY_ROOTS: Final = _library_roots()
_OWN_PACKAGE: Final = __name__.partition(".")[0]


@functools.lru_cache(maxsize=4096)  # realpath is a syscall per path component; code files are few
def _is_in_app(filename: str, module: str) -> bool:
    if module == _OWN_PACKAGE or module.startswith(_OWN_PACKAGE + "."):
        return False
    if not filename or filename.startswith("<"):
        return False
    path = os.path.normcase(os.path.realpath(filename))
    return not path.startswith(_LIBRARY_ROOTS) and "site-packages" not in path


def _frames(tb: TracebackType | None) -> list[tuple[str, str, bool]]:
    """(module, qualname, in_app) for each frame from the catch site down to the raise site."""
    frames: list[tuple[str, str, bool]] = []
    for frame, _lineno in traceback.walk_tb(tb):
        module = str(frame.f_globals.get("__name__", "?"))
        code = frame.f_code
        qualname = getattr(code, "co_qualname", code.co_name)
        frames.append((module, qualname, _is_in_app(code.co_filename, module)))
    return frames


def raise_site(exc: BaseException) -> str:
    """``module:qualname`` of the innermost in-app frame (or innermost frame), ``""`` without a traceback."""
    frames = _frames(exc.__traceback__)
    in_app = [f for f in frames if f[2]]
    chosen = (in_app or frames)[-1:] if frames else []
    return f"{chosen[0][0]}:{chosen[0][1]}" if chosen else ""


def _chain_types(exc: BaseException) -> list[str]:
    from ._classify import type_name

    names: list[str] = []
    current: BaseException | None = exc.__cause__ or (None if exc.__suppress_context__ else exc.__context__)
    while current is not None and len(names) < 3 and current is not exc:
        names.append(type_name(type(current)))
        current = current.__cause__ or (None if current.__suppress_context__ else current.__context__)
    return names


def _message(exc: BaseException) -> str:
    try:
        return str(exc)
    except Exception:
        return ""


def fingerprint(exc: BaseException) -> str:
    """16 hex digits identifying the bug behind ``exc``; see the module docstring for the inputs."""
    from ._classify import type_name

    parts = [type_name(type(exc))]
    try:
        parts.append("caused-by:" + ",".join(_chain_types(exc)))
        parts.append("at:" + raise_site(exc))
        parts.append("msg:" + _ANY_PLACEHOLDER.sub("<*>", normalise_message(_message(exc))))
    except Exception:
        parts.append("fingerprint-degraded")
    return hashlib.sha256("\n".join(parts).encode("utf-8", "replace")).hexdigest()[:16]
