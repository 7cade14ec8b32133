"""A local "third-party" HTTP API that records the request headers it gets.

Privacy tests point an app's outbound calls at it to prove what we add to them (baggage, trace headers)
carries no personal data.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from tests.support.http_server import QuietHandler, serving


class _Recorder(QuietHandler):
    received: list[dict[str, str]] = []

    def do_GET(self) -> None:
        type(self).received.append({k.lower(): v for k, v in self.headers.items()})
        self.answer_empty_json()


@contextmanager
def header_recorder() -> Iterator[tuple[str, list[dict[str, str]]]]:
    """Its base URL and the list each GET's headers (lower-cased names) are appended to."""
    received: list[dict[str, str]] = []
    with serving(type("Recorder", (_Recorder,), {"received": received})) as url:
        yield url, received
