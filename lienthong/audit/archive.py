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


def get(store: Any, digest: str) -> str | None:
    """The plain text archived under ``digest`` (None: never archived, or purged)."""
    with store.session() as session:
        return session.execute(select(ArchivedBody.body).where(ArchivedBody.digest == digest)).scalar()


def get_many(store: Any, digests: Iterable[str]) -> dict[str, str | None]:
    wanted = sorted({d for d in digests if d})
    found: dict[str, str | None] = {}
    with store.session() as session:
        for start in range(0, len(wanted), 500):
            rows = session.execute(
                select(ArchivedBody.digest, ArchivedBody.body).where(
                    ArchivedBody.digest.in_(wanted[start : start + 500])
                )
            ).all()
            found.update(dict(rows))
    return found
