"""Source connector for the provincial one-stop system (VNPT-iGate style REST/JSON).

Pull is incremental by **keyset**: each request asks for ``updated-from`` = the last ``updatedDate``
seen, sorted by (``updatedDate``, ``id``), and skips the ids already taken at that exact timestamp.
Page numbers are used only to step through a run of records that share one timestamp and fill more
than a page; offset paging over the whole range would skip a record whenever another one moved.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import requests

from connectors.http import Timeouts, make_session, retry_after_seconds
from connectors.json_page import decode_page
from connectors.retry import RetryPolicy
from lienthong.connections import Connection
from lienthong.errors import ConfigError, FatalError, RetriableError

log = logging.getLogger(__name__)

DEFAULT_TOKEN_PATH = "/auth/realms/digo/protocol/openid-connect/token"
RESOURCE_PATHS = {"dossiers": "/pa/dossier", "procedures": "/pa/procedure"}


def parse_source_time(value: str) -> datetime:
    """iGate writes ``2025-01-14T08:30:00.000+0700``; compare instants, not strings."""
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def source_instant(record: Any) -> datetime | None:
    """A record's ``updatedDate`` as an instant, or None when it has none that can be read."""
    value = record.get("updatedDate") if isinstance(record, dict) else None
    try:
        at = parse_source_time(value) if isinstance(value, str) else None
    except ValueError:
        return None
    return at if at is not None and at.tzinfo is not None else None


@dataclass
class KeysetMark:
    """Where a pull stands: the last ``updatedDate`` seen and the ids already taken at it."""

    updated: str | None = None
    ids: set[str] = field(default_factory=set)

    def advance(self, records: list[dict[str, Any]]) -> KeysetMark:
        # A record without a readable updatedDate (hostile data) does not move the mark: staging
        # quarantines it (issue #17); the page and the pull go on.
        timed = [(r, at) for r in records if (at := source_instant(r)) is not None]
        if not timed:
            return self
        last, last_at = timed[-1][0]["updatedDate"], timed[-1][1]
        at_last = {str(r.get("id")) for r, at in timed if at == last_at}
        if self.updated is not None and parse_source_time(self.updated) == last_at:
            at_last |= self.ids
        return KeysetMark(updated=last, ids=at_last)

    def already_seen(self, record: dict[str, Any]) -> bool:
        return (
            self.updated is not None
            and isinstance(record, dict)
            and str(record.get("id")) in self.ids
            and source_instant(record) == parse_source_time(self.updated)
        )


@dataclass
class Page:
    records: list[dict[str, Any]]  # new records, in source order
    mark: KeysetMark  # the mark after this page (persist it once the records are staged)
    total: int | None  # the source's count of records from the current updated-from on


class OAuth2ClientCredentials(requests.auth.AuthBase):
    """Bearer token from a Keycloak-style token endpoint, fetched again shortly before it expires."""

    def __init__(self, session: requests.Session, token_url: str, client_id: str, client_secret: str) -> None:
        self.session = session
        self.token_url = token_url
        self.client_id = client_id
        self.client_secret = client_secret
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = threading.Lock()
        self.grants = 0

    def invalidate(self) -> None:
        with self._lock:
            self._token = None

    def token(self) -> str:
        with self._lock:
            if self._token is None or time.monotonic() >= self._expires_at:
                self._fetch()
            assert self._token is not None
            return self._token

    def _fetch(self) -> None:
        try:
            answer = self.session.post(
                self.token_url,
                data={
                    "grant_type": "client_credentials",
                    "client_id": self.client_id,
                    "client_secret": self.client_secret,
                },
            )
        except requests.RequestException as exc:
            raise RetriableError(
                f"token endpoint unreachable: {type(exc).__name__}", target="motcua"
            ) from exc
        if answer.status_code in (400, 401, 403):
            raise FatalError(
                f"token endpoint refused the client credentials of {self.client_id!r} (HTTP {answer.status_code})",
                target="motcua",
                status=answer.status_code,
            )
        if answer.status_code >= 300:
            raise RetriableError(
                f"token endpoint answered HTTP {answer.status_code}",
                target="motcua",
                status=answer.status_code,
            )
        body = answer.json()
        lifetime = float(body.get("expires_in") or 60)
        self._token = body["access_token"]
        # Refresh a little early (10% or 30 s, whichever is smaller) so a request never races expiry.
        self._expires_at = time.monotonic() + lifetime - min(30.0, lifetime * 0.1)
        self.grants += 1

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self.token()}"
        return request


class MotcuaSource:
    """Reads dossiers and procedures from the one-stop system."""

    def __init__(
        self,
        connection: Connection,
        *,
        page_size: int = 100,
        timeouts: Timeouts | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        if not connection.login or not connection.password:
            raise ConfigError(
                f"connection {connection.conn_id!r} needs login (client id) and password (client secret)"
            )
        self.base_url = connection.base_url
        self.page_size = page_size
        self.retry = retry or RetryPolicy(in_call_attempts=5, max_in_call_wait=10.0, max_elapsed=60.0)
        self.session = make_session(timeouts or Timeouts(connect=5, read=60), pool_size=4)
        token_url = self.base_url + str(connection.extra.get("token_path", DEFAULT_TOKEN_PATH))
        self.auth = OAuth2ClientCredentials(self.session, token_url, connection.login, connection.password)

    def close(self) -> None:
        self.session.close()

    # --- requests --------------------------------------------------------------------------------
    def _get(self, path: str, params: dict[str, Any] | None = None) -> requests.Response:
        def attempt() -> requests.Response:
            try:
                answer = self.session.get(self.base_url + path, params=params, auth=self.auth)
            except requests.RequestException as exc:
                raise RetriableError(f"GET {path}: {type(exc).__name__}", target="motcua") from exc
            if answer.status_code == 401:
                # The token expired early or was revoked: fetch a new one and try again.
                self.auth.invalidate()
                raise RetriableError(
                    f"GET {path}: token refused, fetching a new one", target="motcua", status=401
                )
            if answer.status_code == 429 or answer.status_code >= 500:
                raise RetriableError(
                    f"GET {path}: HTTP {answer.status_code}",
                    target="motcua",
                    status=answer.status_code,
                    retry_after=retry_after_seconds(answer),
                )
            return answer

        return self.retry.call(attempt)

    def get(self, resource: str, source_id: str) -> dict[str, Any] | None:
        """One record by id, or None when the source no longer has it (deleted)."""
        answer = self._get(f"{_resource_path(resource)}/{source_id}")
        if answer.status_code == 404:
            return None
        _raise_for_status(answer, resource)
        return decode_page(answer.content, resource)

    def pages(
        self, resource: str, mark: KeysetMark | None = None, until: str | None = None
    ) -> Iterator[Page]:
        """Yield pages of records newer than ``mark`` (and not after ``until``), in source order."""
        mark = mark or KeysetMark()
        page_number = 0
        while True:
            params: dict[str, Any] = {"page": page_number, "size": self.page_size, "sort": "updatedDate,asc"}
            if mark.updated:
                params["updated-from"] = mark.updated
            if until:
                params["updated-to"] = until
            answer = self._get(f"{_resource_path(resource)}/search", params)
            _raise_for_status(answer, resource)
            body = decode_page(answer.content, resource)
            content: list[dict[str, Any]] = body.get("content") or []
            fresh = [record for record in content if not mark.already_seen(record)]
            new_mark = mark.advance(content)
            yield Page(records=fresh, mark=new_mark, total=body.get("totalElements"))
            if body.get("last", True) or len(content) < self.page_size:
                return
            if new_mark.updated == mark.updated:
                page_number += 1  # a run of equal timestamps longer than a page: step through it
            else:
                page_number = 0
            mark = new_mark


def _resource_path(resource: str) -> str:
    try:
        return RESOURCE_PATHS[resource]
    except KeyError:
        raise ConfigError(
            f"unknown source resource {resource!r}; known: {', '.join(RESOURCE_PATHS)}"
        ) from None


def _raise_for_status(answer: requests.Response, resource: str) -> None:
    if answer.status_code >= 400:
        raise FatalError(
            f"one-stop system refused the {resource} request: HTTP {answer.status_code} {answer.text[:200]}",
            target="motcua",
            status=answer.status_code,
        )
