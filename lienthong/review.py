"""Outbox rows in ``review``: versions the gateway will not send without a person's decision.

A row goes to ``review`` when a target took an earlier version and has no operation for a correction
(the BHXH registration, ``on_change: review``).  A person decides: ``resend`` puts the row back to
``pending`` (the next run or ``deliver`` sends it; the target answers as it will), ``dismiss`` closes
it as ``superseded`` (the correction is handled outside the gateway, or is not needed).  Each decision
is recorded (``lienthong.store.resolutions``) with its ledger entry.  Callable without click.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from lienthong import states
from lienthong.clock import utcnow
from lienthong.store.models import OutboxRow
from lienthong.store.resolutions import (
    REVIEW,
    Resolution,
    ResolveError,
    latest_for,
    record,
    require_note,
    require_open,
    shown,
)

#: The state each decision leaves the row in.
DECISIONS = {"resend": states.PENDING, "dismiss": states.SUPERSEDED}
STATE_FILTERS = ("open", "resolved", "all")


def list_review(store: Any, *, route: str | None = None, state: str = "open") -> list[dict[str, Any]]:
    """Rows in review (``open``), rows a person resolved (``resolved``, with the row's state now), or both."""
    if state not in STATE_FILTERS:
        raise ResolveError(f"unknown state filter {state!r} (known: {', '.join(STATE_FILTERS)})")
    resolved_ids = select(Resolution.item_id).where(Resolution.kind == REVIEW)
    conditions = {
        "open": OutboxRow.state == states.REVIEW,
        "resolved": OutboxRow.id.in_(resolved_ids),
        "all": (OutboxRow.state == states.REVIEW) | OutboxRow.id.in_(resolved_ids),
    }
    query = select(OutboxRow).where(conditions[state]).order_by(OutboxRow.id)
    if route:
        query = query.where(OutboxRow.route == route)
    with store.session() as session:
        rows = list(session.execute(query).scalars())
        resolutions = latest_for(session, REVIEW, [r.id for r in rows])
    return [_as_dict(r, resolutions.get(r.id)) for r in rows]


def resolve_review(
    store: Any, ids: list[int], *, decision: str, actor: str, note: str
) -> list[dict[str, Any]]:
    """Resolve the review rows ``ids`` (all or none); ``resend`` refuses a row a newer version replaced."""
    if decision not in DECISIONS:
        raise ResolveError(f"unknown decision {decision!r} for a review row (known: {', '.join(DECISIONS)})")
    require_note(note)
    ids = list(dict.fromkeys(ids))  # an id named twice is resolved once
    new_state = DECISIONS[decision]
    done = []
    with store.session() as session:
        rows = {r.id: r for r in session.execute(select(OutboxRow).where(OutboxRow.id.in_(ids))).scalars()}
        require_open(ids, rows, lambda r: r.state == states.REVIEW, "review row")
        if decision == "resend":
            for row_id in ids:
                _check_resendable(session, rows[row_id])
        now = utcnow()
        for row_id in ids:
            changed = session.execute(
                update(OutboxRow)
                .where(OutboxRow.id == row_id, OutboxRow.state == states.REVIEW)
                .values(
                    state=new_state,
                    next_attempt_at=None,
                    lease_owner=None,
                    lease_expires_at=None,
                    last_error=None if decision == "resend" else rows[row_id].last_error,
                    updated_at=now,
                )
                .execution_options(synchronize_session=False)
            ).rowcount
            if changed != 1:
                raise ResolveError(
                    f"review row {row_id} was resolved meanwhile by someone else; nothing changed"
                )
            row = rows[row_id]
            resolution = record(session, store, row, kind=REVIEW, decision=decision, actor=actor, note=note)
            session.expire(row)
            session.refresh(row)
            done.append(_as_dict(row, resolution))
    return done


def _check_resendable(session: Any, row: OutboxRow) -> None:
    """Sending an old version after a newer one exists (live, sent or in review) would undo it."""
    newer = session.execute(
        select(OutboxRow.id, OutboxRow.state)
        .where(
            OutboxRow.target == row.target,
            OutboxRow.operation == row.operation,
            OutboxRow.record_key == row.record_key,
            OutboxRow.id != row.id,
            OutboxRow.state.in_((*states.LIVE_STATES, states.REVIEW))
            | ((OutboxRow.seq > row.seq) & (OutboxRow.state != states.SUPERSEDED)),
        )
        .limit(1)
    ).first()
    if newer is not None:
        raise ResolveError(
            f"review row {row.id} cannot be resent: row {newer.id} of the same record is {newer.state}; "
            "resolve or dismiss the other one first; nothing changed"
        )


def _as_dict(row: OutboxRow, resolution: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "route": row.route,
        "target": row.target,
        "operation": row.operation,
        "record_key": row.record_key,
        "version": row.seq,
        "state": row.state,
        "reason": row.last_error,
        "mapping_version": row.mapping_version,
        "created_at": row.created_at.isoformat(timespec="seconds"),
        "resolution": shown(resolution),
    }
