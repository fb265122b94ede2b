"""Login sessions of the portal simulator: opaque tokens that expire.

The real portal hands out a session after ``/api/login`` and answers ``-401`` once it has expired; a
client must log in again and resend.  Expiry is what the gateway has to survive, so the lifetime is a
setting and ``expire_all()`` (``POST /_sim/config {"expire_sessions_now": true}``) ends every
session at once.  The clock is injectable so unit tests need not sleep.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable


class SessionStore:
    """Thread-safe map of session token -> expiry time on a monotonic clock."""

    def __init__(self, lifetime: float = 1800.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.lifetime = float(lifetime)
        self._clock = clock
        self._lock = threading.Lock()
        self._expires: dict[str, float] = {}

    def open(self) -> str:
        """A new session valid for ``lifetime`` seconds from now; expired ones are pruned on the way."""
        token = secrets.token_hex(16)
        now = self._clock()
        with self._lock:
            self._expires = {t: at for t, at in self._expires.items() if at > now}
            self._expires[token] = now + self.lifetime
        return token

    def is_valid(self, token: object) -> bool:
        if not isinstance(token, str):
            return False
        with self._lock:
            expires = self._expires.get(token)
            if expires is None:
                return False
            if expires <= self._clock():
                del self._expires[token]
                return False
            return True

    def expire_all(self) -> int:
        with self._lock:
            count = len(self._expires)
            self._expires.clear()
            return count

    def active(self) -> int:
        now = self._clock()
        with self._lock:
            return sum(1 for at in self._expires.values() if at > now)
