"""Dead letters: outbox rows a target refused for good or whose retry budget ran out.

A replay is an explicit act of a person and is recorded (``replays``: who, when, which rows, how):
- ``resend`` puts the rows back to ``pending`` with a fresh retry budget (the fix was on the target's
  side, or the outage that spent the budget is over);
- ``remap`` maps the rows' source versions again with the current mapping files (the fix was in a
  code list or a field rule): the dead rows become ``superseded`` and the new payloads are queued.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update

from lienthong import states
from lienthong.audit import hooks as audit_hooks
from lienthong.clock import utcnow
from lienthong.errors import LienthongError
from lienthong.store.models import OutboxRow, Replay
from lienthong.store.staging import restage


@dataclass(frozen=True)
class DeadFilter:
    route: str | None = None
    since: datetime | None = None  # naive UTC
    ids: tuple[int, ...] = ()


def find_dead(gateway, selection: DeadFilter) -> list[OutboxRow]:  # noqa: ANN001
    with gateway.store.session() as session:
        query = select(OutboxRow).where(OutboxRow.state == states.DEAD).order_by(OutboxRow.id)
        if selection.route:
            query = query.where(OutboxRow.route == selection.route)
        if selection.since:
            query = query.where(OutboxRow.updated_at >= selection.since)
        if selection.ids:
            query = query.where(OutboxRow.id.in_(selection.ids))
        rows = list(session.execute(query).scalars())
    if selection.ids:
        missing = sorted(set(selection.ids) - {row.id for row in rows})
        if missing:
            raise LienthongError(f"not dead letters (no such row, or not dead): {missing}")
    return rows


def row_dict(row: OutboxRow, with_payload: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": row.id,
        "route": row.route,
        "target": row.target,
        "operation": row.operation,
        "record_key": row.record_key,
        "version": row.seq,
        "attempts": row.attempts,
        "last_error": row.last_error,
        "mapping_version": row.mapping_version,
        "updated_at": row.updated_at.isoformat(sep=" ", timespec="seconds"),
    }
    if with_payload:
        data["payload"] = json.loads(row.payload)
    return data


def replay(gateway, selection: DeadFilter, actor: str, *, remap: bool = False, note: str | None = None):  # noqa: ANN001, ANN201
    """Record the replay, requeue the rows, and deliver their routes; returns (replay id, summaries)."""
    rows = find_dead(gateway, selection)
    if not rows:
        raise LienthongError("no dead letters match")
    now = utcnow()
    ids = [row.id for row in rows]
    with gateway.store.session() as session:
        record = Replay(
            kind="dead",
            actor=actor,
            requested_at=now,
            route=selection.route,
            item_ids=json.dumps(ids),
            count=len(ids),
            mode="remap" if remap else "resend",
            note=note,
        )
        session.add(record)
        session.flush()
        replay_id = record.id
        for row in rows:
            stamp = f"replay #{replay_id} by {actor} at {now:%Y-%m-%d %H:%M:%S} UTC; before: {row.last_error}"
            values: dict[str, Any] = {"last_error": stamp[:4000], "updated_at": now, "next_attempt_at": None}
            if remap:
                values["state"] = states.SUPERSEDED
            else:
                values.update(state=states.PENDING, attempts=0)
            session.execute(
                update(OutboxRow)
                .where(OutboxRow.id == row.id, OutboxRow.state == states.DEAD)
                .values(**values)
            )
        mode = "remap" if remap else "resend"
        audit_hooks.replays(
            session, gateway.store, rows, kind="dead", mode=mode, replay_id=replay_id, actor=actor, note=note
        )
    if remap:
        restage(gateway.store, sorted({row.staged_id for row in rows if row.staged_id is not None}))
    routes = sorted({row.route for row in rows})
    summaries = [gateway.run(name, skip_extract=True, kind="replay", actor=actor) for name in routes]
    return replay_id, summaries


def list_replays(gateway, limit: int = 50) -> list[dict[str, Any]]:  # noqa: ANN001
    with gateway.store.session() as session:
        rows = session.execute(select(Replay).order_by(Replay.id.desc()).limit(limit)).scalars()
        return [
            {
                "id": r.id,
                "kind": r.kind,
                "actor": r.actor,
                "requested_at": r.requested_at.isoformat(sep=" ", timespec="seconds"),
                "route": r.route,
                "count": r.count,
                "mode": r.mode,
                "items": json.loads(r.item_ids),
                "note": r.note,
            }
            for r in rows
        ]
