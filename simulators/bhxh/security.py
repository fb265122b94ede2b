"""WS-Security UsernameToken (OASIS WSS 1.0 Username Token Profile) as the BHXH endpoint checks it.

Two password forms are accepted, as on the NGSP service bus:

* ``PasswordText`` (also when ``Type`` is absent, the profile's default): compared in constant time.
* ``PasswordDigest``: ``Base64(SHA-1(nonce + created + password))`` with a base64 ``Nonce`` and a
  ``wsu:Created`` no further than ``window_seconds`` from now; a nonce is accepted once within that
  window, so a captured message cannot be replayed.

Every failure answers the same ``soap:Client`` fault "Xác thực thất bại": telling a caller *which* part
was wrong (user unknown, password wrong, digest stale) would help an attacker more than an integrator.
The reason goes to the log at INFO, never with the password or the digest.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from lxml import etree

from simulators.bhxh.soap import SoapFault, client_fault

log = logging.getLogger(__name__)

WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
_PROFILE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0"
PASSWORD_TEXT = f"{_PROFILE}#PasswordText"
PASSWORD_DIGEST = f"{_PROFILE}#PasswordDigest"
BASE64_BINARY = (
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary"
)
SECURITY_HEADER = f"{{{WSSE}}}Security"

AUTH_FAILED = "Xác thực thất bại"
_MAX_NONCES = 100_000


class AuthenticationFailed(Exception):
    """Internal: why a token was refused (logged, never sent to the client)."""


def auth_fault() -> SoapFault:
    return client_fault(AUTH_FAILED, "XAC_THUC_THAT_BAI")


class UsernameTokenVerifier:
    """Checks the ``wsse:Security`` header of a request against one configured account (thread-safe)."""

    def __init__(
        self,
        username: str,
        password: str,
        window_seconds: float = 300.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.username = username
        self.password = password
        self.window_seconds = window_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._nonces: dict[bytes, float] = {}

    def reset(self) -> None:
        with self._lock:
            self._nonces.clear()

    def verify(self, header: etree._Element | None) -> str:
        """Return the authenticated user name or raise the ``soap:Client`` authentication fault."""
        try:
            return self._verify(header)
        except AuthenticationFailed as exc:
            log.info("bhxh: WS-Security refused: %s", exc)
            raise auth_fault() from None

    def _verify(self, header: etree._Element | None) -> str:
        # Exactly one of each part: with two tokens or two passwords, which one counts would be up to
        # the implementation, a classic way past an authentication check.
        security = _only(header, SECURITY_HEADER, "wsse:Security") if header is not None else None
        if security is None:
            raise AuthenticationFailed("no wsse:Security header")
        token = _only(security, f"{{{WSSE}}}UsernameToken", "wsse:UsernameToken")
        if token is None:
            raise AuthenticationFailed("no wsse:UsernameToken")
        username_node = _only(token, f"{{{WSSE}}}Username", "wsse:Username")
        password = _only(token, f"{{{WSSE}}}Password", "wsse:Password")
        username = ((username_node.text if username_node is not None else None) or "").strip()
        if not username or password is None:
            raise AuthenticationFailed("username or password missing")
        kind = password.get("Type") or PASSWORD_TEXT
        supplied = (password.text or "").strip()
        if kind == PASSWORD_TEXT:
            ok_password = hmac.compare_digest(supplied.encode("utf-8"), self.password.encode("utf-8"))
        elif kind == PASSWORD_DIGEST:
            ok_password = self._check_digest(token, supplied)
        else:
            raise AuthenticationFailed("unsupported password type")
        ok_user = hmac.compare_digest(username.encode("utf-8"), self.username.encode("utf-8"))
        if not (ok_user and ok_password):
            raise AuthenticationFailed("wrong user name or password")
        return username

    def _check_digest(self, token: etree._Element, supplied: str) -> bool:
        nonce_node = _only(token, f"{{{WSSE}}}Nonce", "wsse:Nonce")
        created_node = _only(token, f"{{{WSU}}}Created", "wsu:Created")
        created = ((created_node.text if created_node is not None else None) or "").strip()
        if nonce_node is None or not created:
            raise AuthenticationFailed("PasswordDigest without Nonce or Created")
        if nonce_node.get("EncodingType") not in (None, BASE64_BINARY):
            raise AuthenticationFailed("unsupported Nonce encoding")
        try:
            nonce = base64.b64decode((nonce_node.text or "").strip(), validate=True)
        except (binascii.Error, ValueError):
            raise AuthenticationFailed("Nonce is not base64") from None
        if not nonce:
            raise AuthenticationFailed("empty Nonce")
        now = self._clock()
        if abs(now - _parse_created(created)) > self.window_seconds:
            raise AuthenticationFailed("Created outside the freshness window")
        raw = nonce + created.encode("utf-8") + self.password.encode("utf-8")
        expected = base64.b64encode(hashlib.sha1(raw).digest()).decode("ascii")
        if not hmac.compare_digest(supplied.encode("ascii", "replace"), expected.encode("ascii")):
            return False
        self._remember(nonce, now)
        return True

    def _remember(self, nonce: bytes, now: float) -> None:
        with self._lock:
            if len(self._nonces) >= _MAX_NONCES or nonce in self._nonces:
                self._nonces = {n: t for n, t in self._nonces.items() if t > now}
            if nonce in self._nonces:
                raise AuthenticationFailed("Nonce replayed")
            if len(self._nonces) >= _MAX_NONCES:
                raise AuthenticationFailed("too many live nonces")
            self._nonces[nonce] = now + 2 * self.window_seconds


def _only(parent: etree._Element, tag: str, label: str) -> etree._Element | None:
    """The single child ``tag`` of ``parent``, None when absent; more than one is refused."""
    found = parent.findall(tag)
    if len(found) > 1:
        raise AuthenticationFailed(f"more than one {label}")
    return found[0] if found else None


def _parse_created(value: str) -> float:
    """``wsu:Created`` as epoch seconds; an xs:dateTime without offset is taken as UTC."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise AuthenticationFailed("Created is not an xs:dateTime") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()
