"""Real servers the error tests provoke real library exceptions from (all on 127.0.0.1, free ports)."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

import pytest

from otel_secretary.context import clear_pseudonym_caches
from otel_secretary.testing.local_services import LocalService, calendar_api, openai_api, stripe_errors
from tests.support.http_server import serving

#: Pseudonyms need a key; without one a key file would be created in the current folder (the checkout).
TEST_PII_KEY = "errors-tests-pseudonym-key-0123456789"


@pytest.fixture(autouse=True)
def pii_key(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("OTEL_SECRETARY_PII_KEY", TEST_PII_KEY)
    clear_pseudonym_caches()
    yield TEST_PII_KEY
    clear_pseudonym_caches()


@pytest.fixture(scope="session")
def openai_service() -> Iterator[LocalService]:
    with openai_api.start() as svc:
        yield svc


@pytest.fixture(scope="session")
def stripe_service() -> Iterator[LocalService]:
    with stripe_errors.start() as svc:
        yield svc


@pytest.fixture(scope="session")
def calendar_service() -> Iterator[LocalService]:
    with calendar_api.start() as svc:
        yield svc


class _SlowHandler(BaseHTTPRequestHandler):
    """Answers after a pause (longer than the clients' timeouts), or with the status in the path."""

    def do_GET(self) -> None:
        if self.path.startswith("/status/"):
            self.send_response(int(self.path.rsplit("/", 1)[1]))
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        time.sleep(0.5)
        try:
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")
        except OSError:
            pass

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="session")
def slow_http() -> Iterator[str]:
    with serving(_SlowHandler) as url:
        yield url


@pytest.fixture(scope="session")
def closed_port() -> int:
    """A port nothing listens on (bound then released; good enough on a loopback test machine)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
