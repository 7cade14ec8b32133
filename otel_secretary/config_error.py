"""The one base class of every "the user's input is wrong" error.

Settings (``OTEL_SECRETARY_*``), rule specs, notification configs, PII pattern files, price files and
CLI paths each raise their own subclass, whose message already names ``VAR=value`` or
``file:line: field``. Deriving them all from :class:`ConfigError` lets the CLI and the startup code
answer "is this the user's mistake?" with one ``isinstance`` — one clear line instead of a traceback —
and lets an application catch every configuration mistake of ours in one ``except``.

This module imports nothing, so any module may derive from it without an import cycle.
"""

from __future__ import annotations


class ConfigError(ValueError):
    """A setting, file or argument the user gave is invalid; the message says where and what is allowed."""


__all__ = ["ConfigError"]
