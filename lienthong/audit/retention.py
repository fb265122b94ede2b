"""Retention: delete personal data older than N days, keep every digest (the chain still verifies).

``purge(store, days)`` empties, for everything older than the cutoff:
- archived bodies (``audit_archive.body``; the digest and key id stay);
- staged record bodies of versions already processed (not ``staged``), replaced by ``null``;
- outbox payloads and answers of settled rows (``acknowledged``, ``superseded``): dead letters and
  rows waiting for a person (``review``) keep theirs, they may still be replayed.

The ledger holds no personal data and is never purged.  The purge itself is a ledger entry.
Also ``LIENTHONG_RETENTION_DAYS`` for ``lienthong audit purge`` without ``--older-than``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import exists, update

from lienthong import states
from lienthong.audit import actors, events
from lienthong.audit.chain import Event, append
from lienthong.clock import utcnow
from lienthong.store.models import ArchivedBody, OutboxRow, StagedRecord

PURGED = "null"  # what a purged body reads as: JSON null


def purge(store: Any, days: float, actor: str) -> dict[str, Any]:
    if days < 0:
        raise ValueError("--older-than must be zero or more days")
    cutoff = utcnow() - timedelta(days=days)
    with store.engine.begin() as connection:
        archived = connection.execute(
            update(ArchivedBody)
            .where(ArchivedBody.created_at < cutoff, ArchivedBody.body.is_not(None))
            .values(body=None)
        ).rowcount
        # A version someone may still replay keeps its body: quarantined (`quarantine replay`), or
        # behind a dead or review row (`dead replay --remap` maps the staged body again).
        awaiting_person = exists().where(
            OutboxRow.staged_id == StagedRecord.id, OutboxRow.state.in_((states.DEAD, states.REVIEW))
        )
        staged = connection.execute(
            update(StagedRecord)
            .where(
                StagedRecord.staged_at < cutoff,
                StagedRecord.state.not_in((states.STAGED, states.QUARANTINED)),
                StagedRecord.body != PURGED,
                ~awaiting_person,
            )
            .values(body=PURGED)
        ).rowcount
        settled = connection.execute(
            update(OutboxRow)
            .where(
                OutboxRow.updated_at < cutoff,
                OutboxRow.state.in_((states.ACKNOWLEDGED, states.SUPERSEDED)),
                OutboxRow.payload != PURGED,
            )
            .values(payload=PURGED, response=None)
        ).rowcount
        counts = {
            "cutoff": cutoff.isoformat(timespec="seconds"),
            "days": days,
            "archived_bodies": archived or 0,
            "staged_bodies": staged or 0,
            "outbox_payloads": settled or 0,
        }
        detail = actors.stamp(dict(counts))  # who the system knows, beside the asserted actor
        append(connection, store, [Event(events.PURGE, actor=actor, outcome="purged", detail=detail)])
    return counts
