"""Sinks of the careless-stack test that are not programs of their own: a local HTTP endpoint that keeps
every request (a third-party API, a webhook consumer), and the text of a whole folder.

Everything a request carries is kept (path with query string, headers, body), because a leak can hide in
any of them: a ``baggage`` header, a percent-encoded query, a JSON body.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from tests.support.http_server import serving


@dataclass
class Recorder:
    """What a local HTTP endpoint received, oldest first."""

    url: str = ""
    requests: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def at(self, prefix: str) -> list[dict[str, Any]]:
        with self.lock:
            return [r for r in self.requests if r["path"].startswith(prefix)]

    def json_bodies(self, prefix: str = "/") -> list[Any]:
        return [json.loads(r["body"]) for r in self.at(prefix) if r["body"]]

    def text(self) -> str:
        """Every request line, header and body, as one text to scan."""
        with self.lock:
            return "\n".join(
                f"{r['method']} {r['path']}\n{json.dumps(r['headers'])}\n{r['body']}" for r in self.requests
            )


@contextmanager
def recording_endpoint() -> Iterator[Recorder]:
    recorder = Recorder()

    class Handler(BaseHTTPRequestHandler):
        def _keep(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode("utf-8", "replace") if length else ""
            with recorder.lock:
                recorder.requests.append(
                    {
                        "method": self.command,
                        "path": self.path,
                        "headers": {k.lower(): v for k, v in self.headers.items()},
                        "body": body,
                    }
                )
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        do_GET = do_POST = _keep

        def log_message(self, format: str, *args: object) -> None:
            pass

    with serving(Handler, poll_interval=0.05) as url:
        recorder.url = url
        yield recorder


def folder_text(folder: Path) -> str:
    """Every file under ``folder`` (exported JSON lines, rules state, counts, notification outbox …)."""
    parts = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        parts.append(f"== {path.relative_to(folder)}\n{path.read_bytes().decode('utf-8', 'replace')}")
    return "\n".join(parts)
