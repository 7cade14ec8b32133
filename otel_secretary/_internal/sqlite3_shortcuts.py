"""sqlite3's ``Connection.execute`` shortcuts, traced like ``cursor().execute``.

The contrib sqlite3 instrumentation traces cursors only (contrib #3082, open at 0.66), but the
shortcut is how the Flask tutorial, ``diskcache`` and many small apps run every query, so such an app
got no database span at all. sqlite3 documents the shortcut as "create a cursor and call execute on
it", which is exactly what we do through the traced connection; other drivers keep their own method.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

_SHORTCUTS = ("execute", "executemany")


def trace_connection_shortcuts() -> None:
    """Idempotent; called once the sqlite3 instrumentor is active."""
    from opentelemetry.instrumentation.dbapi import TracedConnectionProxy

    if getattr(TracedConnectionProxy, "_otel_secretary_shortcuts", False):
        return
    for name in _SHORTCUTS:
        if name not in vars(TracedConnectionProxy):  # upstream traces it itself in a later release
            setattr(TracedConnectionProxy, name, _through_a_traced_cursor(name))
    setattr(TracedConnectionProxy, "_otel_secretary_shortcuts", True)  # noqa: B010  (a class we do not own)


def _through_a_traced_cursor(name: str) -> Callable[..., Any]:
    def shortcut(self: Any, *args: Any, **kwargs: Any) -> Any:
        connection = self.__wrapped__
        if isinstance(connection, sqlite3.Connection):
            return getattr(self.cursor(), name)(*args, **kwargs)
        return getattr(connection, name)(*args, **kwargs)

    shortcut.__name__ = name
    return shortcut
