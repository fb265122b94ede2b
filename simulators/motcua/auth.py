"""OAuth2 client-credentials tokens, Keycloak style, with expiry that tests can force.

Tokens look like Keycloak's (three base64url parts, ``exp``/``iat``/``azp`` claims) so that a client
that peeks into them is not surprised, but the simulator only trusts its own table: a token is valid
while it is in the table and not past its expiry.  ``expire_all()`` is what
``POST /_sim/config {"expire_tokens_now": true}`` calls, to test a client's re-authentication.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import secrets
import threading
import time


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class TokenIssuer:
    """Issues and checks bearer tokens (thread-safe)."""

    def __init__(self, lifetime: float = 300.0) -> None:
        self.lifetime = lifetime
        self._key = secrets.token_bytes(32)
        self._lock = threading.Lock()
        self._expiry: dict[str, float] = {}  # token -> time.monotonic() deadline

    def issue(self, client_id: str) -> dict[str, object]:
        now = time.time()
        lifetime = self.lifetime
        claims = {
            "exp": int(now + lifetime), "iat": int(now), "jti": secrets.token_hex(8), "iss": "/auth/realms/digo",
            "azp": client_id, "typ": "Bearer",
        }
        head = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        body = _b64(json.dumps(claims, separators=(",", ":")).encode())
        signature = _b64(hmac.new(self._key, f"{head}.{body}".encode(), hashlib.sha256).digest())
        token = f"{head}.{body}.{signature}"
        with self._lock:
            self._prune()
            self._expiry[token] = time.monotonic() + lifetime
        return {
            "access_token": token,
            "expires_in": max(1, math.ceil(lifetime)),
            "refresh_expires_in": 0,
            "token_type": "Bearer",
            "not-before-policy": 0,
            "scope": "profile email",
        }

    def valid(self, token: str | None) -> bool:
        if not token:
            return False
        with self._lock:
            deadline = self._expiry.get(token)
        return deadline is not None and time.monotonic() < deadline

    def expire_all(self) -> int:
        with self._lock:
            count = len(self._expiry)
            self._expiry.clear()
        return count

    def _prune(self) -> None:
        now = time.monotonic()
        if len(self._expiry) > 1000:
            for token in [t for t, deadline in self._expiry.items() if deadline <= now]:
                del self._expiry[token]


def bearer(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer ...`` header."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


def basic(authorization: str | None) -> tuple[str, str] | None:
    """``(client_id, client_secret)`` of an ``Authorization: Basic ...`` header (client_secret_basic)."""
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip()).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return None
    client_id, sep, secret = decoded.partition(":")
    return (client_id, secret) if sep else None
