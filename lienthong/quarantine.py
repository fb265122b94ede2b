"""Replaying quarantined records once the mapping files (or the record at the source) are fixed.

A replay never goes backwards: an entry whose record already has a newer staged version (the source
corrected it; that version carries the record's fate now, and when it is mapped or acknowledged the
entry is closed as ``superseded``: ``lienthong.store.settle``) is refused, naming the newer version.
``--force-stale`` maps the old version anyway: recorded (replay mode ``remap-stale`` and the ledger's
``replayed`` entry name what it overwrites), and its payload is queued after the newer one.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select, update

from lienthong import states
from lienthong.audit import hooks as audit_hooks
from lienthong.clock import utcnow
from lienthong.errors import LienthongError
from lienthong.store.models import OutboxRow, QuarantineEntry, Replay, StagedRecord
from lienthong.store.settle import QUARANTINE_SUPERSEDED, newer_staged
from lienthong.store.staging import restage
from lienthong.workers import default_actor


def replay(  # noqa: ANN201
    gateway,  # noqa: ANN001
    entry_ids: list[int],
    route: str | None,
    actor: str | None = None,
    *,
    note: str | None = None,
    force_stale: bool = False,
):
    """Put the entries' record versions back to ``staged`` and run map + deliver for their routes;
    the replay is recorded (who, when, which entries, why)."""
    actor = actor or default_actor()
    with gateway.store.session() as session:
        entries = _selected(session, entry_ids, route)
        stale = {entry.id: _newer_of(session, entry) for entry in entries}
        stale = {entry_id: info for entry_id, info in stale.items() if info is not None}
        if stale and not force_stale:
            lines = [
                f"entry {entry_id} is older than {info['text']}" for entry_id, info in sorted(stale.items())
            ]
            raise LienthongError(
                "refused: a replay never maps a version older than a newer one of the same record: "
                + "; ".join(lines)
                + ". The newer version carries the record now (replay its own entry if it has one), "
                "or add --force-stale to map the old version over it (recorded)."
            )
        mode = "remap-stale" if stale else "remap"
        if stale:
            said = "; ".join(
                f"entry {entry_id} overwrites {info['text']}" for entry_id, info in stale.items()
            )
            note = f"{note + ' | ' if note else ''}--force-stale: {said}"[:4000]
        replay_id = None
        if entries:
            record = Replay(
                kind="quarantine",
                actor=actor,
                requested_at=utcnow(),
                route=route,
                item_ids=json.dumps([e.id for e in entries]),
                count=len(entries),
                mode=mode,
                note=note,
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
            session,
            gateway.store,
            entries,
            kind="quarantine",
            mode=mode,
            replay_id=replay_id,
            actor=actor,
            note=note,
            overwrites={entry_id: info["ledger"] for entry_id, info in stale.items()},
        )
    restage(gateway.store, [e.staged_id for e in entries])
    routes = sorted({e.route for e in entries})
    return [gateway.run(name, skip_extract=True, kind="replay", actor=actor) for name in routes]


def _selected(session, entry_ids: list[int], route: str | None) -> list[QuarantineEntry]:  # noqa: ANN001
    """Open entries by id or route; an entry a newer version settled (``superseded``) only by id (it is
    then refused as stale unless forced)."""
    query = select(QuarantineEntry).order_by(QuarantineEntry.id)
    if entry_ids:
        query = query.where(
            QuarantineEntry.id.in_(entry_ids), QuarantineEntry.state.in_(("open", QUARANTINE_SUPERSEDED))
        )
    else:
        query = query.where(QuarantineEntry.state == "open")
    if route:
        query = query.where(QuarantineEntry.route == route)
    entries = list(session.execute(query).scalars())
    if entry_ids:
        missing = sorted(set(entry_ids) - {e.id for e in entries})
        if missing:
            raise LienthongError(f"no open quarantine entr{'y' if len(missing) == 1 else 'ies'} {missing}")
    return entries


def _newer_of(session, entry: QuarantineEntry) -> dict[str, Any] | None:  # noqa: ANN001
    """The newest staged version of the entry's record after its own, and what became of it (the
    target's acknowledgement when there is one), or None when the entry's version is the newest."""
    later = newer_staged(session, entry.route, entry.record_key, entry.staged_id)
    if not later:
        return None
    staged_id, state = later[-1]
    acked = session.execute(
        select(OutboxRow)
        .join(StagedRecord, StagedRecord.id == OutboxRow.staged_id)
        .where(
            StagedRecord.route == entry.route,
            StagedRecord.record_key == entry.record_key,
            StagedRecord.id > entry.staged_id,
            OutboxRow.parent_id.is_(None),
            OutboxRow.state == states.ACKNOWLEDGED,
        )
        .order_by(OutboxRow.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    text = f"staged version #{staged_id} of {entry.record_key} ({state})"
    ledger: dict[str, Any] = {"staged_id": staged_id, "state": state}
    if acked is not None:
        when = f"{acked.acknowledged_at:%Y-%m-%d %H:%M:%S} UTC" if acked.acknowledged_at else "?"
        text += f", acknowledged by {acked.target} as version {acked.seq} at {when} (row {acked.id})"
        ledger.update(row_id=acked.id, version=acked.seq, acknowledged_at=when)
    return {"text": text, "ledger": ledger}
