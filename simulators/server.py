"""The HTTP server every simulator runs on, with its ``/_sim/`` control API.

Why the standard library's threaded server and not a framework: fault injection must act on the
socket itself.  A reset has to reach the client as a TCP RST and a "commit then drop" as a connection
closed with no answer; WSGI/ASGI frameworks turn both into 500 answers.  ``ThreadingHTTPServer``
gives one thread per connection (keep-alive, concurrent clients) and the raw socket in the handler.

A simulator is a :class:`SimApp` subclass: it registers routes with :meth:`SimApp.route`, answers
``received()`` / ``reset_state()`` for the control API, and may accept its own settings through
``configure()`` (token lifetime, mess rate, ...).
"""

from __future__ import annotations

import json
import logging
import re
import select
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from simulators.faults import NOT_PROCESSED, FaultConfig, FaultConfigError, FaultInjector

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 5 * 1024 * 1024


@dataclass
class SimRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    params: dict[str, str] = field(default_factory=dict)

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else default

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name.lower(), default)

    def json(self) -> Any:
        if not self.body:
            raise BadRequest("empty body, JSON expected")
        try:
            return json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise BadRequest(f"body is not valid UTF-8 JSON: {exc}") from exc

    def form(self) -> dict[str, str]:
        parsed = parse_qs(self.body.decode("utf-8", errors="replace"), keep_blank_values=True)
        return {k: v[-1] for k, v in parsed.items()}


@dataclass
class SimResponse:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, data: Any, status: int = 200, headers: dict[str, str] | None = None) -> SimResponse:
        body = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        return cls(status=status, body=body, headers=dict(headers or {}))

    @classmethod
    def text(
        cls, text: str, status: int = 200, content_type: str = "text/plain; charset=utf-8"
    ) -> SimResponse:
        return cls(status=status, body=text.encode("utf-8"), content_type=content_type)


class BadRequest(Exception):
    """Raised by handlers for malformed requests; answered as HTTP 400 with the message."""


Handler = Callable[[SimRequest], SimResponse]


class SimApp:
    """Base of a simulator: routing, fault injection and the control API."""

    name = "sim"

    def __init__(self, faults: FaultConfig | None = None) -> None:
        self.faults = FaultInjector(faults)
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self.requests_served = 0
        self._stats_lock = threading.Lock()

    # --- routing -------------------------------------------------------------------------------
    def route(self, method: str, pattern: str, handler: Handler) -> None:
        """Register ``handler`` for ``method`` and a path pattern such as ``/pa/dossier/{id}``."""
        regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern)
        self._routes.append((method.upper(), re.compile(f"^{regex}$"), handler))

    def dispatch(self, request: SimRequest) -> SimResponse:
        allowed = False
        for method, regex, handler in self._routes:
            match = regex.match(request.path)
            if not match:
                continue
            allowed = True
            if method != request.method:
                continue
            request.params = match.groupdict()
            try:
                return handler(request)
            except BadRequest as exc:
                return SimResponse.json({"error": "bad_request", "message": str(exc)}, status=400)
            except Exception:  # noqa: BLE001 - a simulator bug answers 500, it must not look like a network fault
                log.exception("%s: handler for %s %s failed", self.name, request.method, request.path)
                return SimResponse.json(
                    {"error": "internal_error", "message": "simulator handler failed"}, status=500
                )
        if allowed:
            return SimResponse.json({"error": "method_not_allowed"}, status=405)
        return SimResponse.json({"error": "not_found", "path": request.path}, status=404)

    # --- hooks for subclasses ------------------------------------------------------------------
    def received(self) -> dict[str, Any]:
        """What the simulator accepted, for ``GET /_sim/received``."""
        return {}

    def reset_state(self) -> None:
        """Forget what was received (``POST /_sim/reset``)."""

    def configure(self, settings: dict[str, Any]) -> dict[str, Any]:
        """Apply simulator-specific settings; return the settings now in force."""
        if settings:
            raise BadRequest(f"{self.name} has no settings: {', '.join(sorted(settings))}")
        return {}

    def settings(self) -> dict[str, Any]:
        return {}

    def answer_lost(self, request: SimRequest, response: SimResponse, reason: str) -> None:
        """``request`` took effect but the client never got ``response``: counted by the fault
        injector; simulators that know what a request wrote (the portal) also count its items."""
        self.faults.count_lost(reason)

    def fault_response(self, kind: str, request: SimRequest) -> SimResponse:
        """The answer of an HTTP-level fault; SOAP simulators override it for ``soap_server``."""
        status = {"http_500": 500, "http_502": 502, "http_503": 503, "http_429": 429, "soap_server": 500}[
            kind
        ]
        headers = {}
        if kind == "http_429" or kind == "http_503":
            headers["Retry-After"] = str(self.faults.config.retry_after)
        return SimResponse.json({"error": kind, "message": "injected fault"}, status=status, headers=headers)

    # --- control API ---------------------------------------------------------------------------
    def control(self, request: SimRequest) -> SimResponse:
        path = request.path
        try:
            if path == "/_sim/health":
                return SimResponse.json(
                    {"simulator": self.name, "ok": True, "requests_served": self.requests_served}
                )
            if path == "/_sim/received" and request.method == "GET":
                return SimResponse.json(self.received())
            if path == "/_sim/reset" and request.method == "POST":
                self.reset_state()
                self.faults.reset()
                return SimResponse.json({"reset": True})
            if path == "/_sim/faults":
                if request.method == "POST":
                    data = request.json() if request.body else {}
                    base = None if data.pop("replace", True) else self.faults.config
                    self.faults.configure(FaultConfig.from_dict(data, base))
                return SimResponse.json(self.faults.snapshot())
            if path == "/_sim/config":
                if request.method == "POST":
                    self.configure(request.json())
                return SimResponse.json(self.settings())
        except (BadRequest, FaultConfigError, TypeError) as exc:
            return SimResponse.json({"error": "bad_request", "message": str(exc)}, status=400)
        return SimResponse.json({"error": "not_found", "path": path}, status=404)


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle on, a keep-alive client waits ~40 ms for the
    # delayed ACK on every answer.
    disable_nagle_algorithm = True
    server: SimHTTPServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        log.debug("%s %s", self.address_string(), format % args)

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def _handle(self) -> None:
        app = self.server.app
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            self._send(SimResponse.json({"error": "payload_too_large", "limit": MAX_BODY_BYTES}, status=413))
            self.close_connection = True
            return
        body = self.rfile.read(length) if length else b""
        url = urlsplit(self.path)
        request = SimRequest(
            method=self.command,
            path=url.path,
            query=parse_qs(url.query, keep_blank_values=True),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
        )
        if url.path.startswith("/_sim/"):
            self._send(app.control(request))
            return
        kind, latency = app.faults.decide(request.method, request.path)
        if latency:
            time.sleep(latency)
        if kind == "reset":
            self._reset_connection()
            return
        if kind == "stall":
            time.sleep(app.faults.config.stall_seconds)
            self.close_connection = True
            return
        if kind in NOT_PROCESSED:
            self._send(app.fault_response(kind, request))
            return
        response = app.dispatch(request)
        with app._stats_lock:
            app.requests_served += 1
        if kind == "drop_after_commit":
            # The write took effect; the client never learns it.
            app.answer_lost(request, response, "drop_after_commit")
            self.close_connection = True
            return
        if self._client_gone():
            # The client stopped waiting (its read timeout, or its process died): the answer is lost.
            app.answer_lost(request, response, "client_gone")
            self.close_connection = True
            return
        try:
            self._send(response)
        except OSError:
            app.answer_lost(request, response, "send_failed")
            raise

    def _client_gone(self) -> bool:
        """Whether the client has closed its end: readable with nothing to read (EOF) or reset.

        Clients here never pipeline, so a readable socket before the answer means EOF or a reset.  A
        client that closes after the answer went out is not seen (the tests allow for that race)."""
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            if not readable:
                return False
            return self.connection.recv(1, socket.MSG_PEEK) == b""
        except (OSError, ValueError):
            return True

    def _send(self, response: SimResponse) -> None:
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    def _reset_connection(self) -> None:
        """Abort the connection so that the client sees a TCP RST, not an orderly close."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:
            pass


class SimHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], app: SimApp) -> None:
        self.app = app
        super().__init__(address, _RequestHandler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that give up (timeouts, resets) are routine here: log them quietly.
        log.debug("connection from %s ended with an error", client_address, exc_info=True)


class RunningSimulator:
    """A simulator serving on a real port in a background thread (``with`` or start/stop)."""

    def __init__(self, app: SimApp, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        self.httpd = SimHTTPServer((host, port), app)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    @property
    def url(self) -> str:
        host = self.httpd.server_address[0]
        return f"http://{host}:{self.port}"

    def start(self) -> RunningSimulator:
        self._thread = threading.Thread(
            target=self.httpd.serve_forever,
            kwargs={"poll_interval": 0.2},
            name=f"sim-{self.app.name}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        if self._thread:
            self._thread.join(timeout=5)

    def __enter__(self) -> RunningSimulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
