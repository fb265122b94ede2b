"""Replaying quarantined records once the mapping files (or the record at the source) are fixed."""

from __future__ import annotations

import json

from sqlalchemy import select, update

from lienthong.audit import hooks as audit_hooks
from lienthong.clock import utcnow
from lienthong.store.models import QuarantineEntry, Replay
from lienthong.store.staging import restage
from lienthong.workers import default_actor


def replay(gateway, entry_ids: list[int], route: str | None, actor: str | None = None):  # noqa: ANN001, ANN201
    """Put the entries' record versions back to ``staged`` and run map + deliver for their routes;
    the replay is recorded (who, when, which entries)."""
    actor = actor or default_actor()
    with gateway.store.session() as session:
        query = select(QuarantineEntry).where(QuarantineEntry.state == "open")
        if entry_ids:
            query = query.where(QuarantineEntry.id.in_(entry_ids))
        if route:
            query = query.where(QuarantineEntry.route == route)
        entries = list(session.execute(query).scalars())
        if entry_ids:
            missing = sorted(set(entry_ids) - {e.id for e in entries})
            if missing:
                from lienthong.errors import LienthongError

                raise LienthongError(
                    f"no open quarantine entr{'y' if len(missing) == 1 else 'ies'} {missing}"
                )
        replay_id = None
        if entries:
            record = Replay(
                kind="quarantine",
                actor=actor,
                requested_at=utcnow(),
                route=route,
                item_ids=json.dumps([e.id for e in entries]),
                count=len(entries),
                mode="remap",
            )
            session.add(record)
            session.flush()
            replay_id = record.id
        session.execute(
            update(QuarantineEntry)
            .where(QuarantineEntry.id.in_([e.id for e in entries]))
            .values(state="replayed", resolved_at=utcnow())
        )
        audit_hooks.replays(  # last: the ledger's head lock is taken last
            session, gateway.store, entries, kind="quarantine", mode="remap", replay_id=replay_id, actor=actor
        )
    restage(gateway.store, [e.staged_id for e in entries])
    routes = sorted({e.route for e in entries})
    return [gateway.run(name, skip_extract=True, kind="replay", actor=actor) for name in routes]
