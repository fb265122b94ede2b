"""Tombstones: records deleted at the source, raised by a resync for a person to decide.

The targets have no delete operation and the gateway never deletes anything by itself (DESIGN.md),
so a tombstone stays ``review`` until a person resolves it.  The decision a person can take today is
``acknowledge``: the deletion is accepted, the target keeps the record it was sent.  Callable without
click: the CLI and the console in Airflow's UI share these functions.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from lienthong.store.models import Tombstone
from lienthong.store.resolutions import (
    TOMBSTONE,
    ResolveError,
    latest_for,
    record,
    require_note,
    require_open,
    shown,
)

OPEN = "review"
RESOLVED = "resolved"
#: Filter words shared with ``lienthong.review``: open, resolved, all.
STATE_FILTERS = {"open": (OPEN,), "resolved": (RESOLVED,), "all": (OPEN, RESOLVED)}
DECISIONS = ("acknowledge",)


def list_tombstones(store: Any, *, route: str | None = None, state: str = "open") -> list[dict[str, Any]]:
    """Tombstones, oldest first, each with its last resolution (if any)."""
    query = select(Tombstone).where(Tombstone.state.in_(_states(state))).order_by(Tombstone.id)
    if route:
        query = query.where(Tombstone.route == route)
    with store.session() as session:
        items = list(session.execute(query).scalars())
        resolutions = latest_for(session, TOMBSTONE, [t.id for t in items])
    return [_as_dict(t, resolutions.get(t.id)) for t in items]


def resolve_tombstones(
    store: Any, ids: list[int], *, decision: str, actor: str, note: str
) -> list[dict[str, Any]]:
    """Resolve the open tombstones ``ids`` (all or none), each decision recorded with the ledger entry."""
    if decision not in DECISIONS:
        raise ResolveError(f"unknown decision {decision!r} for a tombstone (known: {', '.join(DECISIONS)})")
    require_note(note)
    ids = list(dict.fromkeys(ids))  # an id named twice is resolved once
    done = []
    with store.session() as session:
        items = {t.id: t for t in session.execute(select(Tombstone).where(Tombstone.id.in_(ids))).scalars()}
        require_open(ids, items, lambda t: t.state == OPEN, "tombstone")
        for item_id in ids:
            item = items[item_id]
            # Conditional: a concurrent resolver that got there first makes this one fail, not repeat.
            changed = session.execute(
                update(Tombstone)
                .where(Tombstone.id == item_id, Tombstone.state == OPEN)
                .values(state=RESOLVED)
                .execution_options(synchronize_session=False)
            ).rowcount
            if changed != 1:
                raise ResolveError(
                    f"tombstone {item_id} was resolved meanwhile by someone else; nothing changed"
                )
            resolution = record(
                session, store, item, kind=TOMBSTONE, decision=decision, actor=actor, note=note
            )
            item.state = RESOLVED
            done.append(_as_dict(item, resolution))
    return done


def _states(state: str) -> tuple[str, ...]:
    if state not in STATE_FILTERS:
        raise ResolveError(f"unknown state filter {state!r} (known: {', '.join(STATE_FILTERS)})")
    return STATE_FILTERS[state]


def _as_dict(item: Tombstone, resolution: Any) -> dict[str, Any]:
    return {
        "id": item.id,
        "route": item.route,
        "record_key": item.record_key,
        "source_id": item.source_id,
        "state": item.state,
        "reason": item.reason,
        "detected_at": item.detected_at.isoformat(timespec="seconds"),
        "resolution": shown(resolution),
    }
