"""Real local receivers for alert notifications: an HTTP endpoint and an SMTP server.

They stand in for Slack, a webhook consumer, PagerDuty's Events API and a mail relay in the demo and in
the tests, so notifications travel over real sockets in the real wire formats. Both bind to loopback
only. The HTTP receiver can be told to fail (status, delay) while it runs, to play a broken endpoint,
and verifies signed webhooks the way a real consumer must (``otel_secretary.notify.verify``).
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Mapping
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self

from otel_secretary.notify import InvalidSignature, verify


class HttpReceiver:
    """Records every POST as ``{"path", "headers", "body"}``; answers ``status`` after ``delay`` seconds.

    ``secrets`` maps a path to its webhook secret: a POST there that fails
    :func:`~otel_secretary.notify.verify` is answered 401 and kept in ``rejected`` (with the reason),
    never in ``requests``, as a real consumer would drop a forged or replayed delivery.
    """

    def __init__(self, status: int = 202, secrets: Mapping[str, str] | None = None) -> None:
        self.requests: list[dict[str, Any]] = []
        self.rejected: list[dict[str, Any]] = []
        self.secrets = dict(secrets or {})
        self.status = status
        self.delay = 0.0
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                secret = receiver.secrets.get(self.path)
                if secret is not None:
                    try:
                        verify(body, dict(self.headers), secret)
                    except InvalidSignature as exc:
                        with receiver.lock:
                            receiver.rejected.append({"path": self.path, "reason": str(exc), "body": body})
                        self.send_response(401)
                        self.end_headers()
                        return
                time.sleep(receiver.delay)
                with receiver.lock:
                    receiver.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                self.send_response(receiver.status)
                self.end_headers()
                self.wfile.write(b'{"status":"success"}')  # PagerDuty's answer; others ignore the body

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}"
        #: A default endpoint, for a receiver that plays a single service.
        self.url = self.base_url + "/hook"
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    def bodies(self, path: str | None = None) -> list[Any]:
        """The JSON bodies received (at ``path`` only, if given), oldest first."""
        with self.lock:
            return [json.loads(r["body"]) for r in self.requests if path is None or r["path"] == path]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class SmtpMailbox:
    """A real SMTP server (aiosmtpd) on a free loopback port, keeping every message parsed.

    aiosmtpd comes with the ``example`` extra; it is imported here so the HTTP receiver needs nothing more.
    """

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.messages: list[EmailMessage] = []
        with socket.socket() as probe:  # aiosmtpd's start-up self-check cannot use port 0
            probe.bind(("127.0.0.1", 0))
            self.port = int(probe.getsockname()[1])
        self.hostname = "127.0.0.1"
        self._controller = Controller(self, hostname=self.hostname, port=self.port)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = message_from_bytes(envelope.original_content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        return "250 OK"

    def start(self) -> Self:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
