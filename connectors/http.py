"""One pooled ``requests.Session`` per external system, with limits that are always set.

Why a session per target: connections are reused (TLS handshakes are expensive on a provincial
LGSP), and the pool size caps how many requests one process sends to one system at a time.

Why the limits live here and not in each connector: every call of the gateway goes through this
session, including the ones a library makes for us (zeep's WSDL download and SOAP posts), so one
place decides what a counterpart may do to us (docs/security.md):

* **no redirect is ever followed** (``allow_redirects`` is forced off, whatever the caller passed:
  ``Session.get`` sets it on by itself); a 3xx answer raises :class:`RedirectRefused`, naming the
  status and the host of the ``Location``, never its path or query;
* **only http and https**: another scheme (``file://``, which zeep mounts an adapter for) raises
  :class:`SchemeRefused` before any adapter is looked up;
* **a body size cap**: the body is streamed and refused past ``Limits.max_body`` bytes (after
  decompression, so a gzip bomb counts at its real size) with :class:`BodyTooLarge`;
* **a total deadline per call**: read timeouts bound the wait for *one* byte, not a byte-drip or
  slow headers; a watchdog shuts the socket down when the call's deadline passes, and the call raises
  :class:`DeadlineExceeded`.
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

USER_AGENT = "lienthong-gateway/0.1"
MIB = 1024 * 1024
_CHUNK = 64 * 1024


@dataclass(frozen=True)
class Timeouts:
    """``connect`` and ``read`` bound one wait; ``total`` bounds a whole call (headers and body)."""

    connect: float = 5.0
    read: float = 30.0
    total: float | None = None  # None: connect + 2 × read, at least 60 s

    @classmethod
    def from_config(cls, data: dict[str, Any] | None) -> Timeouts:
        data = data or {}
        total = data.get("total")
        return cls(
            connect=float(data.get("connect", cls.connect)),
            read=float(data.get("read", cls.read)),
            total=float(total) if total is not None else None,
        )

    def as_tuple(self) -> tuple[float, float]:
        return (self.connect, self.read)

    @property
    def deadline(self) -> float:
        # A short read timeout says "answer promptly", not "finish a large answer within seconds".
        return self.total if self.total is not None else max(60.0, self.connect + 2 * self.read)


@dataclass(frozen=True)
class Limits:
    """What one answer may weigh (``limits: {max_body_mib: 64}`` in a target file or connection extra)."""

    max_body: int = 64 * MIB

    @classmethod
    def from_config(cls, data: dict[str, Any] | None, where: str = "limits") -> Limits:
        data = dict(data or {})
        unknown = sorted(set(data) - {"max_body_mib"})
        if unknown:
            from lienthong.errors import ConfigError

            raise ConfigError(f"{where}: unknown setting(s) {', '.join(unknown)}; known: max_body_mib")
        mib = float(data.get("max_body_mib", cls.max_body / MIB))
        if mib <= 0:
            from lienthong.errors import ConfigError

            raise ConfigError(f"{where}: max_body_mib must be positive")
        return cls(max_body=int(mib * MIB))


def origin(url: str) -> str:
    """``scheme://host:port`` of a URL: what an error may name (never user info, path or query)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "<invalid URL>"
    scheme = parts.scheme or "?"
    host = parts.hostname or "?"
    if ":" in host:
        host = f"[{host}]"
    if port is None:
        port = {"http": 80, "https": 443}.get(scheme)
    return f"{scheme}://{host}:{port}" if port is not None else f"{scheme}://{host}"


class TransportRefused(requests.RequestException):
    """The gateway refused what a counterpart answered (not the counterpart refusing the gateway).

    A ``requests`` exception so that a library calling through our session (zeep) lets it through
    unchanged; :mod:`connectors.answers` classifies each kind by ``isinstance``.
    """

    def __init__(self, message: str, *, url: str, status: int | None = None) -> None:
        self.url_origin = origin(url)
        self.status = status
        super().__init__(message)


class RedirectRefused(TransportRefused):
    def __init__(self, url: str, status: int, location: str | None) -> None:
        self.location_host = origin(location) if location else "no Location"
        super().__init__(
            f"{origin(url)} answered a redirect (HTTP {status}) to {self.location_host}: "
            "redirects are never followed",
            url=url,
            status=status,
        )


class BodyTooLarge(TransportRefused):
    def __init__(self, url: str, status: int, limit: int) -> None:
        self.limit = limit
        super().__init__(
            f"{origin(url)} sent an answer larger than the cap of {limit} bytes (HTTP {status}); refused",
            url=url,
            status=status,
        )


class DeadlineExceeded(TransportRefused):
    def __init__(self, url: str, seconds: float) -> None:
        self.seconds = seconds
        super().__init__(f"{origin(url)} did not finish its answer within {seconds:g} s", url=url)


class SchemeRefused(TransportRefused):
    def __init__(self, url: str) -> None:
        scheme = urlsplit(url).scheme or "(none)"
        super().__init__(f"the scheme {scheme!r} is refused: only http and https are used", url=url)


# --- the watchdog --------------------------------------------------------------------------------
_current = threading.local()


class _Watch:
    """The deadline of one call on this thread: the sockets it used, shut down when time is up."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.expires = time.monotonic() + seconds
        self.fired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True

    def start(self) -> None:
        self._timer.start()

    def cancel(self) -> None:
        self._timer.cancel()

    def watch(self, sock: socket.socket | None) -> None:
        if sock is None:
            return
        with self._lock:
            if self.fired:
                _shutdown(sock)
            else:
                self._sockets.append(sock)

    def _fire(self) -> None:
        with self._lock:
            self.fired = True
            for sock in self._sockets:
                _shutdown(sock)

    def remaining(self) -> float:
        return self.expires - time.monotonic()


def _shutdown(sock: socket.socket) -> None:
    """Wake a thread blocked in ``recv`` on this socket (``close`` alone does not on Linux)."""
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


def _register(conn: HTTPConnection) -> None:
    watch: _Watch | None = getattr(_current, "watch", None)
    if watch is not None:
        watch.watch(getattr(conn, "sock", None))


class _WatchedHTTPConnection(HTTPConnection):
    def connect(self) -> None:
        super().connect()
        _register(self)

    def getresponse(self, *args: Any, **kwargs: Any) -> Any:
        _register(self)  # a pooled connection reused by this call
        return super().getresponse(*args, **kwargs)


class _WatchedHTTPSConnection(HTTPSConnection):
    def connect(self) -> None:
        super().connect()
        _register(self)

    def getresponse(self, *args: Any, **kwargs: Any) -> Any:
        _register(self)
        return super().getresponse(*args, **kwargs)


class _WatchedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


class _WatchedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}


# --- the session ---------------------------------------------------------------------------------
class TimeoutSession(requests.Session):
    """A session that applies the limits above to every request (requests has none by default)."""

    def __init__(
        self,
        timeouts: Timeouts,
        pool_size: int = 10,
        verify: bool | str = True,
        limits: Limits | None = None,
    ) -> None:
        super().__init__()
        self.timeouts = timeouts
        self.limits = limits or Limits()
        self.verify = verify
        self.headers["User-Agent"] = USER_AGENT
        adapter = _WatchedAdapter(pool_connections=2, pool_maxsize=pool_size, max_retries=0)
        self.mount("http://", adapter)
        self.mount("https://", adapter)

    def mount(self, prefix: str, adapter: Any) -> None:
        """Only http and https adapters: a library mounting ``file://`` (zeep) gets nothing."""
        if prefix.lower().startswith(("http://", "https://")):
            super().mount(prefix, adapter)

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        text_url = url.decode() if isinstance(url, bytes) else str(url)
        if urlsplit(text_url).scheme.lower() not in ("http", "https"):
            raise SchemeRefused(text_url)
        kwargs["allow_redirects"] = False
        kwargs["stream"] = True
        timeout = kwargs.get("timeout")
        if timeout is None:
            kwargs["timeout"] = self.timeouts.as_tuple()
        watch = _Watch(self.timeouts.deadline)
        outer = getattr(_current, "watch", None)
        _current.watch = watch
        watch.start()
        try:
            try:
                answer = super().request(method, url, *args, **kwargs)
            except requests.RequestException as exc:
                if watch.fired:
                    raise DeadlineExceeded(text_url, watch.seconds) from exc
                raise
            try:
                if answer.is_redirect or 300 <= answer.status_code < 400:
                    location = answer.headers.get("Location")
                    answer.close()
                    raise RedirectRefused(text_url, answer.status_code, location)
                self._read_body(answer, text_url, watch)
            except BaseException:
                answer.close()
                raise
            return answer
        finally:
            watch.cancel()
            _current.watch = outer

    def _read_body(self, answer: requests.Response, url: str, watch: _Watch) -> None:
        """Read the whole body under the cap and the deadline; the answer then behaves as unstreamed."""
        limit = self.limits.max_body
        declared = answer.headers.get("Content-Length")
        if declared and declared.strip().isdigit() and int(declared) > limit:
            raise BodyTooLarge(url, answer.status_code, limit)
        chunks: list[bytes] = []
        size = 0
        try:
            for chunk in answer.iter_content(_CHUNK):  # decoded: a gzip bomb counts at its real size
                size += len(chunk)
                if size > limit:
                    raise BodyTooLarge(url, answer.status_code, limit)
                if watch.fired or watch.remaining() <= 0:
                    raise DeadlineExceeded(url, watch.seconds)
                chunks.append(chunk)
        except requests.RequestException as exc:
            if watch.fired and not isinstance(exc, TransportRefused):
                raise DeadlineExceeded(url, watch.seconds) from exc
            raise
        if watch.fired:
            raise DeadlineExceeded(url, watch.seconds)
        answer._content = b"".join(chunks)
        answer._content_consumed = True
        answer.raw.release_conn()


def clean_token(value: Any) -> str | None:
    """A token as it may go into a header: surrounding whitespace (a trailing newline from a secrets
    file or an answer) stripped; None when what is left is empty or holds whitespace or control
    characters, which would otherwise reach a header (requests then quotes the value in its error)."""
    text = str(value).strip() if value is not None else ""
    if not text or any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in text):
        return None
    return text


def make_session(
    timeouts: Timeouts | None = None,
    pool_size: int = 10,
    verify: bool | str = True,
    limits: Limits | None = None,
) -> TimeoutSession:
    return TimeoutSession(timeouts or Timeouts(), pool_size=pool_size, verify=verify, limits=limits)


def retry_after_seconds(response: requests.Response) -> float | None:
    """``Retry-After`` in seconds (delta form; the HTTP-date form is rare on these systems)."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        from datetime import UTC, datetime
        from email.utils import parsedate_to_datetime

        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        return max(0.0, (when - datetime.now(UTC)).total_seconds())
