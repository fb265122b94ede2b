"""Dead letters: outbox rows a target refused for good or whose retry budget ran out.

A replay is an explicit act of a person and is recorded (``replays``: who, when, which rows, how):
- ``resend`` puts the rows back to ``pending`` with a fresh retry budget (the fix was on the target's
  side, or the outage that spent the budget is over);
- ``remap`` maps the rows' source versions again with the current mapping files (the fix was in a
  code list or a field rule): the dead rows become ``superseded`` and the new payloads are queued.

A replay never goes backwards (see :func:`replay`): a version older than one the target already
acknowledged is refused unless ``--force-stale`` asks for it, and then the record says so.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update

from lienthong import states
from lienthong.audit import hooks as audit_hooks
from lienthong.clock import utcnow
from lienthong.errors import LienthongError
from lienthong.store.models import OutboxRow, Replay, StagedRecord
from lienthong.store.settle import newer_acknowledged, newer_staged
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


def replay(  # noqa: ANN201
    gateway,  # noqa: ANN001
    selection: DeadFilter,
    actor: str,
    *,
    remap: bool = False,
    note: str | None = None,
    force_stale: bool = False,
):
    """Record the replay, requeue the rows, and deliver their routes; returns (replay id, summaries).

    Replays never go backwards: a row older than a version of its key that the target already
    acknowledged (and, with ``remap``, a row whose source record has a newer staged version) is refused
    with a message naming the newer version.  ``force_stale`` replays it anyway, recorded (replay mode
    ``*-stale``, the ledger's ``replayed`` entry names what it overwrites): a resend is queued as a new
    version after the acknowledged one, so the outbox keeps telling which content the target holds."""
    rows = _selected(gateway, selection)
    if not rows:
        raise LienthongError("no dead letters match")
    stale = stale_rows(gateway, rows, remap=remap)
    if stale and not force_stale:
        raise LienthongError(_refusal(stale))
    now = utcnow()
    ids = [row.id for row in rows]
    mode = "remap" if remap else "resend"
    overwrites = {row_id: info for row_id, info in stale.items()}
    if overwrites:
        mode += "-stale"
        said = "; ".join(f"row {row_id} overwrites {info['text']}" for row_id, info in overwrites.items())
        note = f"{note + ' | ' if note else ''}--force-stale: {said}"[:4000]
    with gateway.store.session() as session:
        record = Replay(
            kind="dead",
            actor=actor,
            requested_at=now,
            route=selection.route,
            item_ids=json.dumps(ids),
            count=len(ids),
            mode=mode,
            note=note,
        )
        session.add(record)
        session.flush()
        replay_id = record.id
        for row in rows:
            stamp = f"replay #{replay_id} by {actor} at {now:%Y-%m-%d %H:%M:%S} UTC; before: {row.last_error}"
            if row.id in overwrites and not remap:
                _resend_as_newest(session, gateway.store, row, replay_id, stamp, now)
                continue
            values: dict[str, Any] = {"last_error": stamp[:4000], "updated_at": now, "next_attempt_at": None}
            if remap:
                values["state"] = states.SUPERSEDED
            else:
                values.update(state=states.PENDING, attempts=0)
            session.execute(
                update(OutboxRow).where(OutboxRow.id == row.id, OutboxRow.state == row.state).values(**values)
            )
        audit_hooks.replays(
            session,
            gateway.store,
            rows,
            kind="dead",
            mode=mode,
            replay_id=replay_id,
            actor=actor,
            note=note,
            overwrites={row_id: info["ledger"] for row_id, info in overwrites.items()},
        )  # last: the ledger's head lock is taken last
    if remap:
        restage(gateway.store, sorted({row.staged_id for row in rows if row.staged_id is not None}))
    routes = sorted({row.route for row in rows})
    summaries = [gateway.run(name, skip_extract=True, kind="replay", actor=actor) for name in routes]
    return replay_id, summaries


def _selected(gateway, selection: DeadFilter) -> list[OutboxRow]:  # noqa: ANN001
    """The dead rows the selection names, and rows named by id that an acknowledged newer version
    already settled (``superseded``): those go on to :func:`stale_rows`, which names the newer version
    and refuses them unless the replay is forced."""
    if not selection.ids:
        return find_dead(gateway, selection)
    query = select(OutboxRow).where(OutboxRow.id.in_(selection.ids)).order_by(OutboxRow.id)
    if selection.route:
        query = query.where(OutboxRow.route == selection.route)
    with gateway.store.session() as session:
        named = list(session.execute(query).scalars())
        settled = {
            row.id: newer_acknowledged(session, row) for row in named if row.state == states.SUPERSEDED
        }
    missing = sorted(set(selection.ids) - {row.id for row in named})
    if missing:
        raise LienthongError(
            f"no such outbox row{' in route ' + selection.route if selection.route else ''}: {missing}"
        )
    settled = {row_id: newer for row_id, newer in settled.items() if newer is not None}
    refused = [row for row in named if row.state != states.DEAD and row.id not in settled]
    if refused:
        raise LienthongError(
            "not dead letters: " + ", ".join(f"row {row.id} is {row.state}" for row in refused)
        )
    return named


def stale_rows(gateway, rows: list[OutboxRow], *, remap: bool) -> dict[int, dict[str, Any]]:  # noqa: ANN001
    """The rows a replay would put behind a newer version: ``{row id: {"text", "ledger"}}``."""
    stale: dict[int, dict[str, Any]] = {}
    with gateway.store.session() as session:
        for row in rows:
            newer = newer_acknowledged(session, row)
            if newer is not None:
                when = f"{newer.acknowledged_at:%Y-%m-%d %H:%M:%S} UTC" if newer.acknowledged_at else "?"
                stale[row.id] = {
                    "text": (
                        f"version {newer.seq} of {row.record_key} that {row.target} acknowledged at {when} "
                        f"(row {newer.id})"
                    ),
                    "ledger": {"row_id": newer.id, "version": newer.seq, "acknowledged_at": when},
                }
                continue
            if remap and row.staged_id is not None:
                staged = session.get(StagedRecord, row.staged_id)
                later = newer_staged(session, staged.route, staged.record_key, staged.id) if staged else []
                if later:
                    staged_id, state = later[-1]
                    stale[row.id] = {
                        "text": f"staged version #{staged_id} of {staged.record_key} (state {state})",
                        "ledger": {"staged_id": staged_id, "state": state},
                    }
    return stale


def _refusal(stale: dict[int, dict[str, Any]]) -> str:
    lines = [f"row {row_id} is older than {info['text']}" for row_id, info in sorted(stale.items())]
    return (
        "refused: a replay never sends a version older than a newer one already there: "
        + "; ".join(lines)
        + ". Replay the newer version instead, or add --force-stale to overwrite it (recorded)."
    )


def _resend_as_newest(session, store, row: OutboxRow, replay_id: int, stamp: str, now: datetime) -> None:  # noqa: ANN001
    """--force-stale resend: the stale payload as a new version after everything of its key, so the
    outbox says which content the target ends up with; the replayed row is superseded by it."""
    latest = session.execute(
        select(func.max(OutboxRow.seq)).where(
            OutboxRow.target == row.target,
            OutboxRow.operation == row.operation,
            OutboxRow.record_key == row.record_key,
        )
    ).scalar_one()
    seq = int(latest) + 1
    copy = session.execute(
        insert(OutboxRow).returning(OutboxRow.id),
        dict(
            route=row.route,
            target=row.target,
            operation=row.operation,
            record_key=row.record_key,
            seq=seq,
            payload=audit_hooks.seal(store, row.payload),
            payload_hash=row.payload_hash,
            item_count=row.item_count,
            mapping_version=row.mapping_version,
            idempotency_key=(
                f"{row.route}/{row.target}.{row.operation}/{row.record_key}/{seq}/{row.payload_hash[7:23]}"
            ),
            staged_id=row.staged_id,
            parent_id=row.parent_id,
            state=states.PENDING,
            attempts=0,
            last_error=f"forced stale resend of row {row.id} (replay #{replay_id})",
            created_at=now,
            updated_at=now,
        ),
    ).scalar_one()
    session.execute(
        update(OutboxRow)
        .where(OutboxRow.id == row.id, OutboxRow.state == row.state)
        .values(
            state=states.SUPERSEDED,
            updated_at=now,
            next_attempt_at=None,
            last_error=f"{stamp}; resent as row {copy} (--force-stale)"[:4000],
        )
    )


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
