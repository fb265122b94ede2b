"""Replaying quarantined records once the mapping files (or the record at the source) are fixed."""

from __future__ import annotations

from sqlalchemy import select, update

from lienthong.clock import utcnow
from lienthong.store.models import QuarantineEntry
from lienthong.store.staging import restage


def replay(gateway, entry_ids: list[int], route: str | None):  # noqa: ANN001, ANN201
    """Put the entries' record versions back to ``staged`` and run map + deliver for their routes."""
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
        session.execute(
            update(QuarantineEntry)
            .where(QuarantineEntry.id.in_([e.id for e in entries]))
            .values(state="replayed", resolved_at=utcnow())
        )
    restage(gateway.store, [e.staged_id for e in entries])
    routes = sorted({e.route for e in entries})
    return [gateway.run(name, skip_extract=True, kind="replay") for name in routes]
