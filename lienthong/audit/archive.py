"""The payload archive: request and response bodies, sealed, addressed by the digest of the plain text.

What is archived is what the gateway can show cheaply and exactly for every connector: the rendered
payload handed to the target (``request``; its digest is the outbox row's ``payload_hash``) and the
answer summary the connector returns (``response``: the target's codes and kept fields).  The
transport envelopes (the portal's session wrapper, the SOAP envelope) are generated from those by
the target file's template and are not archived.

A body stored once is never stored again (``INSERT … ON CONFLICT DO NOTHING`` on the digest), so a
retried payload costs nothing here.  Retention (``lienthong audit purge``) empties old bodies; the
digests stay, in the archive and in the ledger, so the chain still verifies.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select

from lienthong import jsoncanon
from lienthong.audit.driver import DriverCursor, Insert, Table, stored_at
from lienthong.audit.sealing import key_id_of
from lienthong.clock import utcnow
from lienthong.store.models import ArchivedBody

#: ``ON CONFLICT`` is the same on SQLite (3.24+) and PostgreSQL: a body stored once is never stored again.
ARCHIVE = Table(
    "audit_archive",
    (("digest", "text"), ("kind", "text"), ("body", "text"), ("key_id", "text"), ("created_at", "timestamp")),
    "ON CONFLICT (digest) DO NOTHING",
)


def put_many(connection: Any, store: Any, bodies: Iterable[tuple[str, str, str]]) -> None:
    """Archive ``(digest, kind, sealed text)`` triples in the caller's transaction (one statement)."""
    insert = insert_of(store, bodies)
    if insert is not None:
        with DriverCursor(connection) as cursor:
            cursor.write([insert])


def insert_of(store: Any, bodies: Iterable[tuple[str, str, str]]) -> Insert | None:
    """The archive rows of ``bodies``, to write along with a ledger append
    (``chain.append(..., along=[...])``); None when there is nothing to write."""
    from lienthong.audit.config import enabled

    if not enabled(store):
        return None
    now = stored_at(utcnow(), bool(store.is_postgres))
    seen: set[str] = set()
    rows = []
    for digest, kind, sealed in bodies:
        if digest in seen:
            continue
        seen.add(digest)
        rows.append((digest, kind, sealed, key_id_of(sealed), now))
    return Insert(ARCHIVE, rows) if rows else None


class ArchiveIntegrityError(Exception):
    """An archived body that is not the one its digest addresses (copied over it, or altered)."""


def check(digest: str, kind: str | None, body: str) -> str | None:
    """Why ``body`` read from the row at ``digest`` is not that row's body (None: it is).  A
    format-3 value names the digest and kind it was sealed for (bound by the cipher, and its plain
    text already checked against that digest when opened); any other value must hash to ``digest``."""
    if getattr(body, "broken", None):
        return f"the archived body at {digest[:19]}… does not open: {body.broken}"  # type: ignore[attr-defined]
    bound = getattr(body, "digest", None)
    if bound is not None:
        if bound != digest:
            return f"the archived body at {digest[:19]}… was sealed for another digest ({bound[:19]}…)"
        if kind is not None and getattr(body, "kind", None) != kind:
            return f"the archived body at {digest[:19]}… was sealed as a {body.kind}, not a {kind}"  # type: ignore[attr-defined]
        return None
    if jsoncanon.digest(body) != digest:
        return f"the archived body at {digest[:19]}… does not hash to its digest"
    return None


def get(store: Any, digest: str) -> str | None:
    """The plain text archived under ``digest`` (None: never archived, or purged); raises
    :class:`ArchiveIntegrityError` when the body there is not the one the digest addresses."""
    with store.session() as session:
        row = session.execute(
            select(ArchivedBody.kind, ArchivedBody.body).where(ArchivedBody.digest == digest)
        ).first()
    if row is None or row.body is None:
        return None
    problem = check(digest, row.kind, row.body)
    if problem is not None:
        raise ArchiveIntegrityError(problem)
    return row.body


def get_many(
    store: Any, digests: Iterable[str], problems: dict[str, str] | None = None
) -> dict[str, str | None]:
    """Bodies by digest; a body that is not the one its digest addresses is left out and its
    problem put in ``problems`` (so one swapped blob does not hide a dossier's other steps)."""
    wanted = sorted({d for d in digests if d})
    found: dict[str, str | None] = {}
    with store.session() as session:
        for start in range(0, len(wanted), 500):
            rows = session.execute(
                select(ArchivedBody.digest, ArchivedBody.kind, ArchivedBody.body).where(
                    ArchivedBody.digest.in_(wanted[start : start + 500])
                )
            ).all()
            for digest, kind, body in rows:
                problem = check(digest, kind, body) if body is not None else None
                if problem is None:
                    found[digest] = body
                elif problems is not None:
                    problems[digest] = problem
    return found
