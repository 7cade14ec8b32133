"""A test's own HTTP handler served on a free loopback port, stopped when the ``with`` block ends.

Local stand-ins for third parties (a Sentry ingest, an API that records headers, a metrics endpoint,
a slow server) each need the same start and stop; a forgotten ``shutdown`` leaks a thread and a port
into the next test, so the tests share this one.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class QuietHandler(BaseHTTPRequestHandler):
    """Logs nothing (a test's output stays readable) and answers the ``{}`` most ingest APIs send back."""

    def answer_empty_json(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def serving(handler: type[BaseHTTPRequestHandler], poll_interval: float = 0.5) -> Iterator[str]:
    """Its base URL, ``http://127.0.0.1:<port>``."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, args=(poll_interval,), daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
