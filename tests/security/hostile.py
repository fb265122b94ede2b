"""Hostile counterparts on loopback: small ``http.server`` servers whose answers a test scripts.

* :class:`Collector`: records every request it gets (a host an attacker controls); a test asserts it
  got nothing.  It is reached under another host name (``localhost``) than the servers under test
  (``127.0.0.1``), so "same host" checks cannot excuse a followed redirect.
* :class:`Hostile`: answers each request with ``script(request)``: a :class:`Reply`, or a callable
  that writes the raw answer itself (a byte-drip, an endless body), or ``None`` to forward the
  request to an upstream (a real simulator) unchanged.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


Writer = Callable[[BaseHTTPRequestHandler], None]
Script = Callable[[Request], "Reply | Writer | None"]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        request = Request(self.command, self.path, dict(self.headers.items()), body)
        with self.server.lock:
            self.server.requests.append(request)
        answer = self.server.script(request)
        try:
            if answer is None:
                answer = self.server.forward(request)
            if isinstance(answer, Reply):
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                if "Content-Length" not in answer.headers:
                    self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                self.wfile.write(answer.body)
            else:
                answer(self)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_DELETE = _handle


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, script: Script, upstream: str | None) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.script = script
        self.upstream = upstream
        self.requests: list[Request] = []
        self.lock = threading.Lock()
        self.plain = requests.Session()  # a plain client: this server is the test's, not the gateway's

    def forward(self, request: Request) -> Reply:
        assert self.upstream, "no upstream to forward to"
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")}
        answer = self.plain.request(
            request.method,
            self.upstream + request.path,
            data=request.body,
            headers=headers,
            allow_redirects=False,
            timeout=30,
        )
        kept = {k: v for k, v in answer.headers.items() if k.lower() in ("content-type", "retry-after")}
        return Reply(answer.status_code, answer.content, kept)


class Hostile:
    """A scripted server on ``127.0.0.1`` (``with Hostile(script) as h: h.url``)."""

    host = "127.0.0.1"

    def __init__(self, script: Script | None = None, upstream: str | None = None) -> None:
        self._server = _Server(script or (lambda request: None), upstream)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1})
        self._thread.daemon = True

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def requests(self) -> list[Request]:
        with self._server.lock:
            return list(self._server.requests)

    def __enter__(self) -> Hostile:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._server.plain.close()
        self._thread.join(timeout=5)


class Collector(Hostile):
    """Records what reaches it; answers 200 with a plausible body so a follower would be "satisfied"."""

    host = "localhost"

    def __init__(self) -> None:
        super().__init__(
            lambda request: Reply(200, b'{"error_code": 0, "access_token": "x", "session": "x"}')
        )


def redirect(status: int, to: str) -> Reply:
    return Reply(status, b"moved", {"Location": to, "Content-Type": "text/plain"})


def endless_body(chunk: bytes = b"\0" * (1 << 20), total: int = 1 << 30) -> Writer:
    """A 200 answer of ``total`` bytes (1 GiB by default) without a length: written until the client
    hangs up."""

    def write(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Connection", "close")
        handler.end_headers()
        handler.close_connection = True
        sent = 0
        while sent < total:
            handler.wfile.write(chunk)
            sent += len(chunk)

    return write


def byte_drip(every: float = 0.3, headers_too: bool = False, limit: float = 30.0) -> Writer:
    """Answers one byte at a time, every ``every`` seconds: under any read timeout, never finishing
    (in the headers too when ``headers_too``)."""

    def write(handler: BaseHTTPRequestHandler) -> None:
        handler.close_connection = True
        started = time.monotonic()
        head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n"
        if not headers_too:
            handler.wfile.write(head)
            handler.wfile.flush()
            head = b""
        stream = head + b" " * 100000
        for byte in stream:
            if time.monotonic() - started > limit:
                return
            handler.wfile.write(bytes([byte]))
            handler.wfile.flush()
            time.sleep(every)

    return write
