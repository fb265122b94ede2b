"""Authentication schemes a REST target file can name (``auth.type``).

- ``none``; ``basic`` (connection login/password); ``bearer`` (connection password is the token);
- ``session_login``: log in with a request described in YAML, read the session token from the
  answer, put it into each request through the ``${token}`` placeholder, and log in again when an
  answer says the session expired (the national portal's ``-401``).
"""

from __future__ import annotations

import threading
from typing import Any

import jmespath
import requests

from connectors import answers
from connectors.answers import Action
from connectors.http import clean_token, origin, retry_after_seconds
from connectors.targets.templates import render
from lienthong.connections import Connection
from lienthong.errors import ConfigError, CredentialsRefused

AUTH_TYPES = ("none", "basic", "bearer", "session_login")
SESSION_KEYS = {"type", "method", "path", "headers", "json", "token", "success", "expired"}


def connection_context(connection: Connection) -> dict[str, Any]:
    return {
        "login": connection.login,
        "password": connection.password,
        "extra": connection.extra,
        "base_url": connection.base_url,
    }


class Auth:
    """No authentication; the base of the others."""

    #: Whether a refused or expired credential can be renewed by logging in again.
    can_renew = False

    def __init__(
        self, config: dict[str, Any], connection: Connection, session: requests.Session, target: str
    ) -> None:
        self.config = config
        self.connection = connection
        self.session = session
        self.target = target

    def token(self) -> str | None:
        return None

    def apply(self, kwargs: dict[str, Any]) -> None:
        """Add credentials to the keyword arguments of ``session.request``."""

    def is_expired(self, status: int, body: Any) -> bool:
        """An answer refusing the credential (HTTP 401, or the target's own "session expired" code)."""
        return status == 401

    def apply_to_session(self, session: requests.Session) -> None:
        """Set the credential on a session used by a library that sends for us (zeep)."""

    def invalidate(self, token: str | None) -> None:
        pass


class BasicAuth(Auth):
    def apply(self, kwargs: dict[str, Any]) -> None:
        kwargs["auth"] = (self.connection.login or "", self.connection.password or "")

    def apply_to_session(self, session: requests.Session) -> None:
        session.auth = (self.connection.login or "", self.connection.password or "")


class BearerAuth(Auth):
    def __init__(
        self, config: dict[str, Any], connection: Connection, session: requests.Session, target: str
    ) -> None:
        super().__init__(config, connection, session, target)
        if not connection.password:
            raise ConfigError(
                f"targets/{target}.yaml: auth.type bearer takes the token from the connection's password, "
                f"and connection {connection.conn_id!r} has none"
            )
        self._token = clean_token(connection.password)
        if self._token is None:
            raise ConfigError(
                f"targets/{target}.yaml: the bearer token of connection {connection.conn_id!r} contains "
                "spaces or control characters (its value is not shown)"
            )

    def apply(self, kwargs: dict[str, Any]) -> None:
        kwargs.setdefault("headers", {})["Authorization"] = f"Bearer {self._token}"

    def apply_to_session(self, session: requests.Session) -> None:
        session.headers["Authorization"] = f"Bearer {self._token}"


class SessionLoginAuth(Auth):
    can_renew = True

    def __init__(
        self, config: dict[str, Any], connection: Connection, session: requests.Session, target: str
    ) -> None:
        super().__init__(config, connection, session, target)
        self._token: str | None = None
        self._lock = threading.Lock()
        self._token_path = jmespath.compile(config.get("token", "token"))
        success = config.get("success") or {}
        self._success_path = jmespath.compile(success["path"]) if success else None
        self._success_values = {str(v) for v in success.get("in", [])}
        expired = config.get("expired") or {}
        self._expired_path = jmespath.compile(expired["path"]) if expired else None
        self._expired_values = {str(v) for v in expired.get("in", [])}
        self.logins = 0

    def token(self) -> str:
        with self._lock:
            if self._token is None:
                self._token = self._login()
            return self._token

    def invalidate(self, token: str | None) -> None:
        with self._lock:
            if self._token == token:  # another thread may already have logged in again
                self._token = None

    def is_expired(self, status: int, body: Any) -> bool:
        if status == 401:
            return True
        if self._expired_path is None or not isinstance(body, dict):
            return False
        return str(self._expired_path.search(body)) in self._expired_values

    def _login(self) -> str:
        context = {"conn": connection_context(self.connection)}
        url = self.connection.base_url + self.config.get("path", "/login")
        kwargs: dict[str, Any] = {}
        if "headers" in self.config:
            kwargs["headers"] = {k: str(v) for k, v in render(self.config["headers"], context).items()}
        if "json" in self.config:
            kwargs["json"] = render(self.config["json"], context)
        place = f"{self.target}: login failed: {origin(url)}"
        try:
            answer = self.session.request(self.config.get("method", "POST"), url, **kwargs)
        except Exception as exc:  # noqa: BLE001 - classified, or re-raised when not a transport error
            # A login changes nothing at the target: a lost answer is just a failed attempt.
            raise answers.error_for(exc, place, target=self.target, write=False) from None
        verdict = answers.of_status(answer.status_code, write=False, retry_after=retry_after_seconds(answer))
        if verdict is not None and verdict.action is Action.RETRY:
            raise verdict.error(place, target=self.target)
        try:
            body = answer.json()
        except ValueError:
            body = None
        ok = answer.status_code < 300 and (
            self._success_path is None or str(self._success_path.search(body)) in self._success_values
        )
        found = self._token_path.search(body) if isinstance(body, dict) else None
        token = clean_token(found) if isinstance(found, (str, int)) else None
        if not ok or not token:
            message = body.get("message") if isinstance(body, dict) else None
            # Refused credentials are the operator's to fix, not the records' fault: the rows stay
            # pending (CredentialsRefused), never dead.
            raise CredentialsRefused(
                f"{self.target}: login refused for user {self.connection.login!r}"
                + (f": {message}" if message else f" (HTTP {answer.status_code})"),
                target=self.target,
                status=answer.status_code,
            )
        self.logins += 1
        return token


def build_auth(
    config: dict[str, Any] | None, connection: Connection, session: requests.Session, target: str
) -> Auth:
    config = dict(config or {"type": "none"})
    kind = config.get("type", "none")
    classes = {"none": Auth, "basic": BasicAuth, "bearer": BearerAuth, "session_login": SessionLoginAuth}
    if kind not in classes:
        raise ConfigError(
            f"targets/{target}.yaml: auth.type: must be one of {', '.join(AUTH_TYPES)}, found {kind!r}"
        )
    if kind == "session_login":
        unknown = sorted(set(config) - SESSION_KEYS)
        if unknown:
            raise ConfigError(f"targets/{target}.yaml: auth: unknown key(s) {', '.join(unknown)}")
    return classes[kind](config, connection, session, target)
