"""A local Sentry ingest: a real HTTP server on 127.0.0.1 that keeps every envelope sentry-sdk posts."""

from __future__ import annotations

import gzip
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote, quote_plus

from tests.support.http_server import QuietHandler, serving


class EnvelopeSink:
    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        self.paths: list[str] = []
        self.lock = threading.Lock()
        self.port = 0

    def dsn(self, project: int = 1) -> str:
        return f"http://publickey@127.0.0.1:{self.port}/{project}"

    def items(self) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        """(item header, payload) of every JSON item in every envelope received."""
        found = []
        with self.lock:
            bodies = [
                b for b, path in zip(self.bodies, self.paths, strict=True) if path.endswith("/envelope/")
            ]
        for body in bodies:
            lines = body.split(b"\n")
            index = 1  # line 0 is the envelope header
            while index + 1 < len(lines):
                header = json.loads(lines[index])
                payload = lines[index + 1]
                index += 2
                if header.get("content_type", "application/json") == "application/json" or payload.startswith(
                    b"{"
                ):
                    found.append((header, json.loads(payload)))
        return found

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [payload for header, payload in self.items() if header.get("type") == kind]

    def text(self) -> str:
        with self.lock:
            return b"\n".join(self.bodies).decode("utf-8", "replace")


def encodings(needle: str) -> set[str]:
    """The forms a value can take in an envelope: raw, percent-encoded, +-encoded, JSON-escaped."""
    forms = {needle, quote(needle, safe=""), quote_plus(needle), json.dumps(needle)[1:-1]}
    forms.add(json.dumps(needle, ensure_ascii=True)[1:-1])
    return {form for form in forms if form}


def leaks(text: str, needles: list[str]) -> list[str]:
    """The needles found in ``text`` in any of their encodings (case-insensitive for percent codes)."""
    lowered = text.lower()
    return sorted({needle for needle in needles for form in encodings(needle) if form.lower() in lowered})


@contextmanager
def running_sink() -> Iterator[EnvelopeSink]:
    received = EnvelopeSink()

    class Handler(QuietHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            with received.lock:
                received.bodies.append(body)
                received.paths.append(self.path)
            self.answer_empty_json()

    with serving(Handler) as url:
        received.port = int(url.rsplit(":", 1)[1])
        yield received
