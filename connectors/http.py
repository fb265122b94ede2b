"""One pooled ``requests.Session`` per external system, with timeouts that are always set.

Why a session per target: connections are reused (TLS handshakes are expensive on a provincial
LGSP), and the pool size caps how many requests one process sends to one system at a time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import requests
from requests.adapters import HTTPAdapter

USER_AGENT = "lienthong-gateway/0.1"


@dataclass(frozen=True)
class Timeouts:
    connect: float = 5.0
    read: float = 30.0

    @classmethod
    def from_config(cls, data: dict[str, Any] | None) -> Timeouts:
        data = data or {}
        return cls(connect=float(data.get("connect", cls.connect)), read=float(data.get("read", cls.read)))

    def as_tuple(self) -> tuple[float, float]:
        return (self.connect, self.read)


class TimeoutSession(requests.Session):
    """A session that applies default timeouts to every request (requests has none by default)."""

    def __init__(self, timeouts: Timeouts, pool_size: int = 10, verify: bool | str = True) -> None:
        super().__init__()
        self.timeouts = timeouts
        self.verify = verify
        self.headers["User-Agent"] = USER_AGENT
        adapter = HTTPAdapter(pool_connections=2, pool_maxsize=pool_size, max_retries=0)
        self.mount("http://", adapter)
        self.mount("https://", adapter)

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        kwargs.setdefault("timeout", self.timeouts.as_tuple())
        return super().request(method, url, *args, **kwargs)


def make_session(
    timeouts: Timeouts | None = None, pool_size: int = 10, verify: bool | str = True
) -> TimeoutSession:
    return TimeoutSession(timeouts or Timeouts(), pool_size=pool_size, verify=verify)


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
