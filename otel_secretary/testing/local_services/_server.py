"""Shared plumbing of the local stand-ins: a threaded loopback HTTP server with runtime fault injection.

The stand-ins replace OpenAI, Google Calendar and Stripe in tests and in the demo, so they must start in
milliseconds, bind only to 127.0.0.1 by default, and let a test script failures ("429 twice, then succeed")
without restarting anything. They must never call the real services.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

_FAULT_SPEC = re.compile(r"^(?P<kind>\d{3}|slow|reset)(?::(?P<arg>[\w.]+))?(?:x(?P<times>\d+))?$")


@dataclass(frozen=True)
class Fault:
    """One scripted misbehaviour: an HTTP status (with the service's error body), a delay, or a reset.

    ``status=None`` with ``delay`` answers normally after sleeping, which is how tests provoke client
    timeouts. ``reason`` selects a service-specific error flavour (e.g. Calendar ``rateLimitExceeded``).
    """

    status: int | None = None
    delay: float = 0.0
    reason: str = ""
    reset: bool = False


def parse_faults(spec: str) -> list[Fault]:
    """Parse ``429x2``, ``500``, ``slow:2.5``, ``403:rateLimitExceeded``, ``reset``; comma separated.

    The same spec language is used by the ``x-fake-fault`` request header and by ``LocalService.fail``,
    so a test can choose whichever is more convenient.
    """
    faults: list[Fault] = []
    for part in filter(None, (p.strip() for p in spec.split(","))):
        match = _FAULT_SPEC.match(part)
        if match is None:
            raise ValueError(f"bad fault spec {part!r}: use e.g. 429x2, 500, slow:2.5, 403:rateLimitExceeded")
        kind, arg, times = match["kind"], match["arg"] or "", int(match["times"] or 1)
        if kind == "slow":
            fault = Fault(delay=float(arg or "1"))
        elif kind == "reset":
            fault = Fault(reset=True)
        else:
            fault = Fault(status=int(kind), reason=arg)
        faults.extend([fault] * times)
    return faults


@dataclass
class Request:
    """What a route handler sees: method, path, query, parsed JSON or form body, and headers."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: Mapping[str, str]
    raw_body: bytes
    json: Any = None
    form: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class Response:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    # A streamed body: each item is written and flushed separately (server-sent events).
    chunks: list[bytes] | None = None
    chunk_delay: float = 0.0


Handler = Callable[[Request, "re.Match[str]"], Response]


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients abandoning streams or timing out on purpose is what the tests do; not worth a traceback.
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


class LocalService:
    """A running stand-in. ``with start() as svc:`` stops it on exit; ``svc.fail("429x2")`` scripts faults.

    Faults queued with :meth:`fail` are consumed one per request, in order, across all routes; the
    ``x-fake-fault`` header is an alternative that keys on the client's retry counter (see
    :meth:`_fault_for`). ``requests`` records every request (method, path, headers) for assertions.
    """

    def __init__(
        self,
        name: str,
        routes: Sequence[tuple[str, str, Handler]],
        error_body: Callable[[Fault], tuple[dict[str, Any], dict[str, str]]],
        host: str = "127.0.0.1",
        port: int = 0,
        default_headers: Callable[[Request], dict[str, str]] | None = None,
    ) -> None:
        self.name = name
        self._routes = [(method, re.compile(pattern + r"$"), handler) for method, pattern, handler in routes]
        self._error_body = error_body
        self._default_headers = default_headers or (lambda _req: {})
        self._faults: deque[Fault] = deque()
        self._lock = threading.Lock()
        self.requests: list[Request] = []
        self._server = _QuietServer((host, port), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name=f"local-{name}", daemon=True)
        self._thread.start()

    @property
    def host(self) -> str:
        return str(self._server.server_address[0])

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def fail(self, spec: str) -> None:
        """Queue faults for the next requests, e.g. ``svc.fail("429x2")`` then the third request succeeds."""
        with self._lock:
            self._faults.extend(parse_faults(spec))

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()
            self.requests.clear()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> LocalService:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _fault_for(self, request: Request) -> Fault | None:
        # Header faults are stateless: the n-th attempt (from the client's own retry counter header,
        # OpenAI's x-stainless-retry-count) gets the n-th fault, so concurrent tests never interfere.
        header = request.headers.get("x-fake-fault")
        if header:
            faults = parse_faults(header)
            attempt = int(request.headers.get("x-stainless-retry-count", "0") or 0)
            return faults[attempt] if attempt < len(faults) else None
        with self._lock:
            return self._faults.popleft() if self._faults else None

    def _dispatch(self, request: Request) -> Response:
        for method, pattern, handler in self._routes:
            match = pattern.match(request.path)
            if match is not None and method == request.method:
                return handler(request, match)
        body, headers = self._error_body(Fault(status=404, reason="notFound"))
        return Response(404, body, headers)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        service = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return  # tests assert on spans, not on stderr noise

            def _handle(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                headers = {k.lower(): v for k, v in self.headers.items()}
                request = Request(self.command, parts.path, parse_qs(parts.query), headers, raw)
                content_type = headers.get("content-type", "")
                if raw and "json" in content_type:
                    try:
                        request.json = json.loads(raw)
                    except ValueError:
                        request.json = None
                elif raw:
                    request.form = parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True)
                with service._lock:
                    service.requests.append(request)
                fault = service._fault_for(request)
                if fault is not None and fault.reset:
                    self.close_connection = True
                    self.connection.close()
                    return
                if fault is not None and fault.delay:
                    time.sleep(fault.delay)
                if fault is not None and fault.status is not None:
                    body, extra = service._error_body(fault)
                    response = Response(fault.status, body, extra)
                else:
                    response = service._dispatch(request)
                headers_out = {**service._default_headers(request), **response.headers}
                try:
                    self._write(response, headers_out)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True

            def _write(self, response: Response, headers: dict[str, str]) -> None:
                self.send_response(response.status)
                for key, value in headers.items():
                    self.send_header(key, value)
                if response.chunks is not None:
                    self.send_header("Content-Type", "text/event-stream")
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    for chunk in response.chunks:
                        if response.chunk_delay:
                            time.sleep(response.chunk_delay)
                        self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                        self.wfile.flush()
                    self.wfile.write(b"0\r\n\r\n")
                    self.wfile.flush()
                    return
                payload = b"" if response.body is None else json.dumps(response.body).encode()
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

        return _Handler


def run_main(description: str, start: Callable[..., LocalService]) -> None:
    """``python -m ...`` entry shared by the stand-ins: serve until Ctrl-C, print the URL first."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    service = start(host=args.host, port=args.port)
    print(service.url, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        service.stop()
