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

from connectors import answers
from connectors.answers import Action
from connectors.http import Limits, Timeouts, clean_token, make_session, origin, retry_after_seconds
from connectors.json_page import decode_page
from connectors.retry import RetryPolicy
from lienthong.connections import Connection
from lienthong.errors import ConfigError, CounterpartError, CredentialsRefused, FatalError, RetriableError

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
        place = f"token endpoint {origin(self.token_url)}/…"
        try:
            answer = self.session.post(
                self.token_url,
                data={
                    "grant_type": "client_credentials",
                    "client_id": self.client_id,
                    "client_secret": self.client_secret,
                },
            )
        except Exception as exc:  # noqa: BLE001 - classified, or re-raised when not a transport error
            raise answers.error_for(exc, place, target="motcua", write=False) from None
        verdict = answers.of_status(answer.status_code, write=False, retry_after=retry_after_seconds(answer))
        if verdict is not None and verdict.action is not Action.RETRY:
            # 400 (invalid_client), 401, 403: the client credentials are refused, whatever the code.
            raise CredentialsRefused(
                f"{place}: refused the client credentials of {self.client_id!r} (HTTP {answer.status_code})",
                target="motcua",
                status=answer.status_code,
            )
        if verdict is not None:
            raise verdict.error(place, target="motcua")
        try:
            body = answer.json()
        except ValueError:
            body = None
        token = clean_token(body.get("access_token")) if isinstance(body, dict) else None
        if token is None:
            raise CounterpartError(
                f"{place}: the answer holds no usable access_token (missing, empty, or with spaces or "
                "control characters; its value is not shown)",
                target="motcua",
            )
        try:
            lifetime = float(body.get("expires_in") or 60)
        except (TypeError, ValueError):
            lifetime = 60.0
        lifetime = min(max(lifetime, 1.0), 24 * 3600.0)
        self._token = token
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
        timeouts = timeouts or Timeouts.from_config(
            {"connect": 5, "read": 60, **(connection.extra.get("timeouts") or {})}
        )
        limits = Limits.from_config(
            connection.extra.get("limits"), where=f"connection {connection.conn_id}: limits"
        )
        self.session = make_session(timeouts, pool_size=4, limits=limits)
        token_url = self.base_url + str(connection.extra.get("token_path", DEFAULT_TOKEN_PATH))
        self.auth = OAuth2ClientCredentials(self.session, token_url, connection.login, connection.password)

    def close(self) -> None:
        self.session.close()

    # --- requests --------------------------------------------------------------------------------
    def _get(self, path: str, params: dict[str, Any] | None = None) -> requests.Response:
        url = self.base_url + path
        place = f"one-stop system {origin(url)}: GET {path}"

        def attempt() -> requests.Response:
            try:
                answer = self.session.get(url, params=params, auth=self.auth)
            except Exception as exc:  # noqa: BLE001 - classified, or re-raised when not a transport error
                raise answers.error_for(exc, place, target="motcua", write=False) from None
            if answer.status_code == 401:
                # The token expired early or was revoked: fetch a new one and try again.
                self.auth.invalidate()
                raise RetriableError(
                    f"{place}: token refused, fetching a new one", target="motcua", status=401
                )
            if answer.status_code == 404:
                return answer  # a record no longer at the source: the caller decides
            verdict = answers.of_status(
                answer.status_code, write=False, retry_after=retry_after_seconds(answer)
            )
            if verdict is not None:
                raise verdict.error(place, target="motcua")
            return answer

        return self.retry.call(attempt)

    def get(self, resource: str, source_id: str) -> dict[str, Any] | None:
        """One record by id, or None when the source no longer has it (deleted)."""
        answer = self._get(f"{_resource_path(resource)}/{source_id}")
        if answer.status_code == 404:
            return None
        body = _json(answer, f"one-stop system {origin(self.base_url)}: {resource} {source_id}")
        if not isinstance(body, dict):
            raise CounterpartError(
                f"one-stop system {origin(self.base_url)}: a {resource} record is not a JSON object",
                target="motcua",
            )
        return body

    def pages(
        self, resource: str, mark: KeysetMark | None = None, until: str | None = None
    ) -> Iterator[Page]:
        """Yield pages of records newer than ``mark`` (and not after ``until``), in source order."""
        mark = mark or KeysetMark()
        page_number = 0
        guard = _PagingGuard(f"one-stop system {origin(self.base_url)} ({resource})")
        while True:
            params: dict[str, Any] = {"page": page_number, "size": self.page_size, "sort": "updatedDate,asc"}
            if mark.updated:
                params["updated-from"] = mark.updated
            if until:
                params["updated-to"] = until
            path = f"{_resource_path(resource)}/search"
            answer = self._get(path, params)
            if answer.status_code == 404:
                raise CounterpartError(
                    f"one-stop system {origin(self.base_url)}: GET {path}: HTTP 404 (wrong base URL?)",
                    target="motcua",
                    status=404,
                )
            body = _json(answer, f"one-stop system {origin(self.base_url)}: {resource} page {page_number}")
            content = body.get("content") if isinstance(body, dict) else None
            if not isinstance(content, list) or not all(_is_record(r) for r in content):
                raise CounterpartError(
                    f"one-stop system {origin(self.base_url)}: {resource} page {page_number} is not a list "
                    "of JSON objects",
                    target="motcua",
                )
            last = body.get("last", True) or len(content) < self.page_size
            if not last:
                guard.check(content, page_number, params.get("updated-from"))
            fresh = [record for record in content if not mark.already_seen(record)]
            new_mark = mark.advance(content)
            yield Page(records=fresh, mark=new_mark, total=body.get("totalElements"))
            if last:
                return
            if new_mark.updated == mark.updated:
                page_number += 1  # a run of equal timestamps longer than a page: step through it
            else:
                page_number = 0
            mark = new_mark


class _PagingGuard:
    """Ends a pull whose pages stop bringing anything new (a source that says ``last: false`` forever).

    A page makes progress when it holds a record past the newest ``updatedDate`` of this pull, or one
    at that instant whose id this pull has not seen yet.  Only the ids at the newest instant are kept,
    so memory stays bounded by the longest run of equal timestamps, and such a run, stepped through by
    page number, still progresses page by page.  The first page after the keyset moved may repeat the
    previous one (a run of equal timestamps that filled it is asked for again from its own instant
    before it is stepped through): one page without progress is allowed each time ``updated-from`` moves forward.
    """

    def __init__(self, source: str) -> None:
        self.source = source
        self.edge: datetime | None = None
        self.ids_at_edge: set[str] = set()
        self.pages = 0
        self.position: datetime | None = None

    def check(self, content: list[dict[str, Any]], page_number: int, updated_from: str | None) -> None:
        self.pages += 1
        # Moved: the request starts past every position this pull asked from before (a source that
        # sends the keyset back and forth does not earn a free page each time).
        at = parse_source_time(updated_from) if updated_from else None
        moved = at is not None and (self.position is None or at > self.position)
        if moved:
            self.position = at
        progressed = False
        for record in content:
            at = source_instant(record)
            if at is None:
                continue  # an unreadable updatedDate: that record is quarantined at staging
            key = str(record.get("id"))
            if self.edge is None or at > self.edge:
                self.edge, self.ids_at_edge = at, {key}
                progressed = True
            elif at == self.edge and key not in self.ids_at_edge:
                self.ids_at_edge.add(key)
                progressed = True
        if not progressed and not (moved and page_number == 0):
            raise CounterpartError(
                f"{self.source}: page {page_number} (request {self.pages} of this pull) brought no record "
                "not already seen, yet says more follow; the pull stops here (nothing after it is lost: "
                "the watermark stays at the last staged page)",
                target="motcua",
            )


def _is_record(value: Any) -> bool:
    """A record is a JSON object; one whose id or ``updatedDate`` is missing or unreadable is still a
    record: staging quarantines it alone (issue #17), the page goes on."""
    return isinstance(value, dict)


def _json(answer: requests.Response, place: str) -> Any:
    """Bytes that are not UTF-8 survive as lone surrogates (one record's damage, quarantined at
    staging); only a body that is not JSON at all stops the pull."""
    try:
        return decode_page(answer.content, place)
    except FatalError:
        raise CounterpartError(f"{place}: the answer is not JSON", target="motcua") from None


def _resource_path(resource: str) -> str:
    try:
        return RESOURCE_PATHS[resource]
    except KeyError:
        raise ConfigError(
            f"unknown source resource {resource!r}; known: {', '.join(RESOURCE_PATHS)}"
        ) from None
