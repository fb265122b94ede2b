"""The delivery outbox: one row per record version per target operation.

Rules that hold here, whatever calls them (DESIGN.md "Deliver"):
- only one row per (target, operation, record key) is live at a time, and versions go in order: a
  row is claimable only when no older version of the same key is still pending, in flight or waiting
  for a retry;
- a row with a parent (a dossier's progress records) is claimable only once the parent is acknowledged;
- a claim is a lease: a worker that dies leaves rows ``in_flight`` until the lease expires, then any
  worker may take them again;
- an outcome is recorded only by the worker that still holds the lease.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Integer, and_, bindparam, case, exists, func, literal, or_, select, text, update
from sqlalchemy.orm import Session, aliased, defer
from sqlalchemy.orm.attributes import set_committed_value

from lienthong import states
from lienthong.clock import utcnow
from lienthong.store.db import Store
from lienthong.store.models import LIVE_PREDICATE, OutboxRow
from lienthong.store.settle import settle_behind
from lienthong.workers import holder_is_dead


@dataclass(frozen=True)
class KeyHistory:
    """What the outbox already holds for one key: the newest row and whether any version was acknowledged."""

    latest_id: int
    latest_seq: int
    latest_hash: str
    latest_state: str
    acknowledged_id: int | None


def key_histories(
    session: Session, target: str, operation: str, keys: Iterable[str]
) -> dict[str, KeyHistory]:
    keys = list(set(keys))
    if not keys:
        return {}
    histories: dict[str, KeyHistory] = {}
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        rows = session.execute(
            select(OutboxRow.record_key, OutboxRow.id, OutboxRow.seq, OutboxRow.payload_hash, OutboxRow.state)
            .where(
                OutboxRow.target == target, OutboxRow.operation == operation, OutboxRow.record_key.in_(chunk)
            )
            .order_by(OutboxRow.record_key, OutboxRow.seq)
        ).all()
        for key, row_id, seq, payload_hash, state in rows:
            previous = histories.get(key)
            acknowledged = (
                row_id if state == states.ACKNOWLEDGED else (previous.acknowledged_id if previous else None)
            )
            histories[key] = KeyHistory(row_id, seq, payload_hash, state, acknowledged)
    return histories


def supersede_older(session: Session, target: str, operation: str, record_key: str, below_seq: int) -> int:
    """A newer version replaces older ones that were never sent (pending or waiting for a retry)."""
    result = session.execute(
        update(OutboxRow)
        .where(
            OutboxRow.target == target,
            OutboxRow.operation == operation,
            OutboxRow.record_key == record_key,
            OutboxRow.seq < below_seq,
            OutboxRow.state.in_((states.PENDING, states.RETRY_SCHEDULED)),
        )
        .values(state=states.SUPERSEDED, updated_at=utcnow(), next_attempt_at=None)
    )
    return result.rowcount or 0


@dataclass(frozen=True)
class KeyRange:
    """A half-open range of record keys, ``low <= record_key < high``: one batch of a route's deliveries
    (Airflow's mapped ``deliver`` tasks).  A record's follow-ups (progress rows) share its key, so they
    fall in the same range as their parent.  ``None`` leaves a side open: consecutive ranges then cover
    every key, including keys queued after the ranges were planned.  Keys compare in the database's
    own order (its collation), the order in which the ranges are planned."""

    low: str | None = None
    high: str | None = None

    def contains(self, key: str) -> bool:
        """Python's order; equal to the database's for SQLite and for PostgreSQL's "C" collation."""
        return (self.low is None or key >= self.low) and (self.high is None or key < self.high)


def _range_params(key_range: KeyRange | None) -> dict[str, str]:
    params = {}
    if key_range is not None and key_range.low is not None:
        params["key_low"] = key_range.low
    if key_range is not None and key_range.high is not None:
        params["key_high"] = key_range.high
    return params


def _in_range(query, low: bool, high: bool):  # type: ignore[no-untyped-def]
    if low:
        query = query.where(OutboxRow.record_key >= bindparam("key_low"))
    if high:
        query = query.where(OutboxRow.record_key < bindparam("key_high"))
    return query


#: The older versions of the same key, and the parent row (outer-joined: an index lookup per
#: candidate; an ``OR EXISTS`` there made PostgreSQL hash every acknowledged row on each claim).
OLDER = aliased(OutboxRow, name="older")
PARENT = aliased(OutboxRow, name="parent")


def blocked_condition(parent):  # type: ignore[no-untyped-def]
    """A pending follow-up whose ``parent`` (an alias of the outbox joined on ``parent_id``) waits
    for a person (``states.BLOCKED``)."""
    return and_(OutboxRow.state == states.PENDING, parent.state.in_(states.BLOCKING_PARENT_STATES))


def live_bucket(parent):  # type: ignore[no-untyped-def]
    """A live row's state for reporting: ``blocked`` for a pending follow-up whose ``parent`` (an
    alias of the outbox, outer-joined on ``parent_id``) waits for a person; else the row's state."""
    return case((blocked_condition(parent), literal(states.BLOCKED)), else_=OutboxRow.state)


def claimable_condition(now: Any):  # type: ignore[no-untyped-def]
    """Live, due, first of its key, parent acknowledged.  Written as a conjunction over the live
    states so that the planner walks the partial index ``ix_outbox_live`` in id order and stops at
    the batch size, instead of sorting every live row on each claim."""
    return and_(
        # Literally the predicate of the partial index ix_outbox_live: SQLite uses a partial index
        # only for a term written the same way with constants (a bound IN list does not match).
        text(f"outbox.{LIVE_PREDICATE}"),
        or_(OutboxRow.state != states.RETRY_SCHEDULED, OutboxRow.next_attempt_at <= now),
        or_(OutboxRow.state != states.IN_FLIGHT, OutboxRow.lease_expires_at < now),
        ~exists().where(
            OLDER.target == OutboxRow.target,
            OLDER.operation == OutboxRow.operation,
            OLDER.record_key == OutboxRow.record_key,
            OLDER.seq < OutboxRow.seq,
            OLDER.state.in_(states.LIVE_STATES),
        ),
        or_(OutboxRow.parent_id.is_(None), PARENT.state == states.ACKNOWLEDGED),
    )


@functools.cache
def _claim_statement(postgres: bool, by_route: bool, low: bool = False, high: bool = False):  # type: ignore[no-untyped-def]
    """Built once: a claim is the hot path of delivery, and building the statement (aliases, cache
    key) cost more than running it."""
    query = (
        select(OutboxRow)
        .outerjoin(PARENT, PARENT.id == OutboxRow.parent_id)
        .where(
            OutboxRow.target == bindparam("target"),
            OutboxRow.operation == bindparam("operation"),
            claimable_condition(bindparam("now")),
        )
        .order_by(OutboxRow.id)
        .limit(bindparam("limit", type_=Integer))
        # Bodies are read for the rows taken only (_BODIES): a claim of 10 progress items reads up to
        # 10 candidates and often takes one row that carries all 10; reading (and opening, when
        # sealed) every candidate's payload cost more than the second statement.
        .options(defer(OutboxRow.payload), defer(OutboxRow.response))
    )
    if by_route:
        query = query.where(OutboxRow.route == bindparam("route"))
    query = _in_range(query, low, high)  # a batch of the route (Airflow); no term at all otherwise
    if postgres:
        query = query.with_for_update(skip_locked=True, of=OutboxRow)
    return query


#: The mark of a row whose last attempt may have reached the target without its answer reaching us:
#: its next attempt asks the target first (a lookup) instead of writing blindly.
OUTCOME_UNKNOWN = "[outcome unknown] "
#: Why a row taken back from a worker that died (or lost its lease) is marked so.
LEFT_IN_FLIGHT = OUTCOME_UNKNOWN + "its worker stopped while it was in flight (it may have been sent)"

_BODIES = select(OutboxRow.id, OutboxRow.payload, OutboxRow.response).where(
    OutboxRow.id.in_(bindparam("ids", expanding=True))
)

_TAKE = (
    update(OutboxRow)
    .where(OutboxRow.id.in_(bindparam("ids", expanding=True)))
    .values(
        state=states.IN_FLIGHT,
        lease_owner=bindparam("owner"),
        lease_expires_at=bindparam("expires"),
        updated_at=bindparam("now"),
    )
)


def claim(
    store: Store,
    target: str,
    operation: str,
    owner: str,
    max_items: int,
    lease_seconds: float,
    route: str | None = None,
    key_range: KeyRange | None = None,
) -> list[OutboxRow]:
    """Take up to ``max_items`` items' worth of deliverable rows, oldest first, under a lease; with a
    ``key_range``, only rows whose record key falls in it."""
    now = utcnow()
    bounds = _range_params(key_range)
    query = _claim_statement(store.is_postgres, route is not None, "key_low" in bounds, "key_high" in bounds)
    params = {"target": target, "operation": operation, "now": now, "limit": max(1, max_items), **bounds}
    if route is not None:
        params["route"] = route
    if store.is_postgres:
        return _claim_in_transaction(store, query, params, owner, max_items, now, lease_seconds)
    with store.claim_lock:
        return _claim_in_transaction(store, query, params, owner, max_items, now, lease_seconds)


def _claim_in_transaction(
    store: Store,
    query: Any,
    params: dict[str, Any],
    owner: str,
    max_items: int,
    now: datetime,
    lease_seconds: float,
) -> list[OutboxRow]:
    with store.session() as session:
        candidates = list(session.execute(query, params).scalars())
        taken: list[OutboxRow] = []
        items = 0
        for row in candidates:
            if taken and items + row.item_count > max_items:
                break
            taken.append(row)
            items += row.item_count
        if not taken:
            return []
        expires = now + timedelta(seconds=lease_seconds)
        ids = [row.id for row in taken]
        bodies = {
            row_id: (payload, response)
            for row_id, payload, response in session.execute(_BODIES, {"ids": ids})
        }
        session.expunge_all()
        for row in taken:
            set_committed_value(row, "payload", bodies[row.id][0])
            set_committed_value(row, "response", bodies[row.id][1])
        session.execute(_TAKE, {"ids": ids, "owner": owner, "expires": expires, "now": now})
        expired = [row for row in taken if row.state == states.IN_FLIGHT]  # a lease ran out: rare
        if expired:
            session.execute(
                update(OutboxRow)
                .where(OutboxRow.id.in_([row.id for row in expired]))
                .values(last_error=LEFT_IN_FLIGHT)
            )
            for row in expired:
                row.last_error = LEFT_IN_FLIGHT
        for row in taken:
            row.state, row.lease_owner, row.lease_expires_at, row.updated_at = (
                states.IN_FLIGHT,
                owner,
                expires,
                now,
            )
        return taken


@dataclass
class Outcome:
    """What became of one claimed row after an attempt."""

    row_id: int
    state: str  # acknowledged | retry_scheduled | dead | review
    attempts: int = 1
    error: str | None = None
    response: str | None = None
    next_attempt_at: datetime | None = None


_RECORD_OUTCOME = (
    update(OutboxRow)
    .where(
        OutboxRow.id == bindparam("row_id"),
        OutboxRow.lease_owner == bindparam("owner"),
        OutboxRow.state == states.IN_FLIGHT,
    )
    .values(
        state=bindparam("new_state"),
        attempts=OutboxRow.attempts + bindparam("add_attempts"),
        lease_owner=None,
        lease_expires_at=None,
        updated_at=bindparam("now"),
        next_attempt_at=bindparam("next_at"),
        last_error=bindparam("error"),
        response=func.coalesce(bindparam("new_response"), OutboxRow.response),
        acknowledged_at=bindparam("acked_at"),
    )
)


def record_outcomes(
    store: Store, owner: str, outcomes: Sequence[Outcome], audit: Callable[[Any], None] | None = None
) -> int:
    """Write outcomes for rows this worker still holds (one statement, executed for every row);
    returns how many were recorded.  In the same transaction, an acknowledgement settles the older
    alarms of its key (``lienthong.store.settle``: older dead/review rows, follow-ups left behind,
    older quarantine entries of its record: ``superseded``), and ``audit`` writes the batch's ledger
    entries (the settled ones included) and archived answers, last (``lienthong.audit.hooks.DeliveryAudit``)."""
    if not outcomes:
        return 0
    now = utcnow()
    parameters = [
        {
            "row_id": outcome.row_id,
            "owner": owner,
            "new_state": outcome.state,
            "add_attempts": outcome.attempts,
            "now": now,
            "next_at": outcome.next_attempt_at,
            "error": outcome.error,
            "new_response": outcome.response,
            "acked_at": now if outcome.state == states.ACKNOWLEDGED else None,
        }
        for outcome in outcomes
    ]
    acknowledged = [outcome.row_id for outcome in outcomes if outcome.state == states.ACKNOWLEDGED]
    with getattr(audit, "lock", None) or nullcontext(), store.engine.begin() as connection:
        result = connection.execute(_RECORD_OUTCOME, parameters)
        settled = settle_behind(connection, acknowledged, now) if acknowledged else []
        if audit is not None:
            if settled and hasattr(audit, "add_superseded"):
                audit.add_superseded(settled)
            audit(connection)  # last: the ledger's head lock is taken last
        return result.rowcount or 0


def release(store: Store, owner: str, row_ids: Sequence[int]) -> None:
    """Give rows back untouched (a worker stopping early, a breaker that opened before the send)."""
    with store.session() as session:
        session.execute(
            update(OutboxRow)
            .where(
                OutboxRow.id.in_(list(row_ids)),
                OutboxRow.lease_owner == owner,
                OutboxRow.state == states.IN_FLIGHT,
            )
            .values(state=states.PENDING, lease_owner=None, lease_expires_at=None, updated_at=utcnow())
        )


def in_flight_under(store: Store, owner_prefix: str, run_id: int | None = None) -> int:
    """Rows in flight under lease owners starting with ``owner_prefix`` (one process's workers)."""
    query = (
        select(func.count())
        .select_from(OutboxRow)
        .where(
            OutboxRow.state == states.IN_FLIGHT,
            OutboxRow.lease_owner.startswith(owner_prefix, autoescape=True),
        )
    )
    if run_id is not None:
        query = query.where(OutboxRow.run_id == run_id)
    with store.session() as session:
        return int(session.execute(query).scalar_one())


def blocked_count(store: Store, route: str | None = None) -> int:
    """Pending follow-ups whose parent waits for a person (``states.BLOCKED``): included in the
    ``pending`` of :func:`state_counts`, reported apart by status, metrics and reconciliation."""
    parent = aliased(OutboxRow, name="parent")
    query = (
        select(func.count())
        .select_from(OutboxRow)
        .join(parent, parent.id == OutboxRow.parent_id)
        .where(blocked_condition(parent))
    )
    if route is not None:
        query = query.where(OutboxRow.route == route)
    with store.session() as session:
        return int(session.execute(query).scalar_one())


def state_counts(store: Store, route: str | None = None, run_id: int | None = None) -> dict[str, int]:
    query = select(OutboxRow.state, func.count()).group_by(OutboxRow.state)
    if route:
        query = query.where(OutboxRow.route == route)
    if run_id is not None:
        query = query.where(OutboxRow.run_id == run_id)
    with store.session() as session:
        counts = {state: 0 for state in states.OUTBOX_STATES}
        counts.update({state: n for state, n in session.execute(query).all()})
        return counts


def next_retry_at(
    store: Store,
    targets: Iterable[tuple[str, str]],
    route: str | None = None,
    key_range: KeyRange | None = None,
) -> datetime | None:
    """When the earliest waiting retry of these target operations falls due (None if nothing waits)."""
    conditions = [and_(OutboxRow.target == t, OutboxRow.operation == op) for t, op in targets]
    if not conditions:
        return None
    query = select(func.min(OutboxRow.next_attempt_at)).where(
        OutboxRow.state == states.RETRY_SCHEDULED, or_(*conditions)
    )
    if route:
        query = query.where(OutboxRow.route == route)
    bounds = _range_params(key_range)
    query = _in_range(query, "key_low" in bounds, "key_high" in bounds)
    with store.session() as session:
        return session.execute(query, bounds).scalar_one_or_none()


def recover_orphans(store: Store) -> int:
    """Rows in flight under a worker of this host that no longer exists go back to ``pending`` now,
    rather than when their lease expires (a restart after SIGKILL resumes at once), marked
    ``OUTCOME_UNKNOWN``: the worker may have sent them before it died."""
    with store.session() as session:
        owners = session.execute(
            select(OutboxRow.lease_owner).where(OutboxRow.state == states.IN_FLIGHT).distinct()
        ).scalars()
        dead = [owner for owner in owners if holder_is_dead(owner)]
        if not dead:
            return 0
        result = session.execute(
            update(OutboxRow)
            .where(OutboxRow.state == states.IN_FLIGHT, OutboxRow.lease_owner.in_(dead))
            .values(
                state=states.PENDING,
                lease_owner=None,
                lease_expires_at=None,
                updated_at=utcnow(),
                last_error=LEFT_IN_FLIGHT,  # sent or not: the next attempt asks the target first
            )
        )
        return result.rowcount or 0
