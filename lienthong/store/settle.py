"""Newer versions settle older alarms: the rule that closes a record's stale dead letters, review rows
and quarantine entries once a newer version of the same record has a known fate.

Rules (docs/operations.md "Newer versions settle older alarms"):

- *Newer* is the order of versions in the store: an outbox row's ``seq`` within its (target,
  operation, target key); a staged version's ``id`` within its (route, source key).
- An outbox row in ``dead`` or ``review`` is settled (``superseded``) only when a newer row of the same
  (target, operation, target key) is **acknowledged**: a newer payload equal to a dead one is not a
  delivery, so it settles nothing.
- A ``pending``/``retry_scheduled`` follow-up whose parent is ``superseded`` can never be claimed (its
  parent will never be acknowledged); once a newer version of the parent's key is acknowledged it is
  superseded too ("left behind").  A dead follow-up is settled only by its own slot's rule: its
  progress records may still be owed to the target.
- A newer version that is ``filtered`` (outside the route's selection by design: nothing of the record
  will be sent any more) closes the dead and review rows of the older versions (found through their
  ``staged_id``: a filtered version has no target key) and their pending follow-ups.
- A quarantine entry lives in the *source* key space (route, source key; it has no target), an outbox
  row in the *target* key space (they differ in ``catalogue_sync``): an acknowledged row settles the
  open entries of the source key of its staged version (``staged_id``) whose staged version is older;
  at mapping time a newer version that is quarantined, filtered or unchanged settles them too (the
  newest quarantine entry of a key supersedes its older ones).

Everything here runs inside the caller's transaction (the one that records the outcome or maps the
chunk); the caller writes the ledger entries (:func:`lienthong.audit.events.superseded`) last.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, select, update
from sqlalchemy.orm import aliased

from lienthong import states
from lienthong.store.models import OutboxRow, QuarantineEntry, StagedRecord

#: The state a settled quarantine entry takes (its other states: ``open``, ``replayed``).
QUARANTINE_SUPERSEDED = "superseded"


@dataclass(frozen=True)
class Settled:
    """One alarm closed as ``superseded``, and what settled it (for the ledger and the caller)."""

    kind: str  # "outbox" | "quarantine"
    item_id: int
    route: str
    record_key: str
    previous_state: str
    reason: str
    target: str | None = None
    operation: str | None = None
    mapping_version: str | None = None
    version: int | None = None  # the settled row's seq (outbox)
    staged_id: int | None = None
    by_row_id: int | None = None  # the acknowledged row that settled it
    by_version: int | None = None
    by_staged_id: int | None = None  # the newer staged version that settled it


def chunks(values: Sequence[Any], size: int = 500) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def settle_behind(connection: Any, acknowledged_ids: Sequence[int], now: datetime) -> list[Settled]:
    """Close what the just-acknowledged rows make stale; returns what was closed.  Two statements per
    delivery batch on the common path (nothing to settle), both built once and walking indexes from the
    acknowledged rows' primary keys: the older versions of their keys, and the quarantine entries of
    their records."""
    settled: list[Settled] = []
    for ids in chunks(list(acknowledged_ids)):
        older = connection.execute(_older_statement(), {"ids": list(ids)}).all()
        if older:
            closed = _older_rows(connection, older, now)
            settled += closed
            parents = {row[0]: row for row in older if row[6] == states.SUPERSEDED}
            parents.update({item.item_id: _as_parent(item) for item in closed})
            if parents:
                settled += _left_behind(connection, parents, now)
        settled += _older_quarantine(connection, ids, now)
    return settled


_OLDER_COLUMNS = (
    "id",
    "route",
    "target",
    "operation",
    "record_key",
    "seq",
    "state",
    "mapping_version",
    "staged_id",
)


@functools.cache
def _older_statement():  # type: ignore[no-untyped-def]
    """The older versions of the acknowledged rows' keys that an acknowledgement may settle (dead,
    review) or whose live follow-ups it leaves behind (superseded), with the acknowledged row."""
    older, acked = aliased(OutboxRow, name="older"), aliased(OutboxRow, name="acked")
    return (
        select(*(getattr(older, name) for name in _OLDER_COLUMNS), acked.id, acked.seq, acked.staged_id)
        .join(
            acked,
            and_(
                acked.target == older.target,
                acked.operation == older.operation,
                acked.record_key == older.record_key,
                older.seq < acked.seq,
            ),
        )
        .where(
            acked.id.in_(bindparam("ids", expanding=True)),
            acked.state == states.ACKNOWLEDGED,
            older.state.in_((states.DEAD, states.REVIEW, states.SUPERSEDED)),
        )
    )


def _as_parent(item: Settled) -> tuple[Any, ...]:
    """A just-settled row in the shape of an ``_older_statement`` row (for its follow-ups)."""
    return (
        item.item_id,
        item.route,
        item.target,
        item.operation,
        item.record_key,
        item.version,
        states.SUPERSEDED,
        item.mapping_version,
        item.staged_id,
        item.by_row_id,
        item.by_version,
        item.by_staged_id,
    )


def _older_rows(connection: Any, found: Sequence[Any], now: datetime) -> list[Settled]:
    best: dict[int, Any] = {}
    for row in found:
        if row[6] in (states.DEAD, states.REVIEW) and (row[0] not in best or row[10] > best[row[0]][10]):
            best[row[0]] = row
    result = []
    for row_id, route, target, operation, key, seq, state, version, staged_id, by_id, by_seq, by_staged in (
        best[k] for k in sorted(best)
    ):
        reason = f"version {by_seq} of the same record was acknowledged by {target} (row {by_id})"
        if close_row(connection, row_id, (states.DEAD, states.REVIEW), reason, now):
            result.append(
                Settled(
                    "outbox",
                    row_id,
                    route,
                    key,
                    state,
                    reason,
                    target,
                    operation,
                    version,
                    seq,
                    staged_id,
                    by_id,
                    by_seq,
                    by_staged,
                )
            )
    return result


def _left_behind(connection: Any, parents: dict[int, tuple[Any, ...]], now: datetime) -> list[Settled]:
    """Live follow-ups whose parent is an older, superseded version of an acknowledged row's key."""
    routes = sorted({row[1] for row in parents.values()})
    followups = connection.execute(
        select(
            OutboxRow.id,
            OutboxRow.route,
            OutboxRow.target,
            OutboxRow.operation,
            OutboxRow.record_key,
            OutboxRow.seq,
            OutboxRow.state,
            OutboxRow.mapping_version,
            OutboxRow.staged_id,
            OutboxRow.parent_id,
        )
        .where(
            OutboxRow.route.in_(routes),  # (route, state): the index; parent_id has none
            OutboxRow.state.in_((states.PENDING, states.RETRY_SCHEDULED)),
            OutboxRow.parent_id.in_(list(parents)),
        )
        .order_by(OutboxRow.id)
    ).all()
    result = []
    for row_id, route, target, operation, key, seq, state, version, staged_id, parent_id in followups:
        by_id, by_seq, by_staged = parents[parent_id][9:12]
        reason = (
            f"left behind: its parent (row {parent_id}) was superseded and version {by_seq} of the "
            f"record was acknowledged (row {by_id})"
        )
        if close_row(connection, row_id, (states.PENDING, states.RETRY_SCHEDULED), reason, now):
            result.append(
                Settled(
                    "outbox",
                    row_id,
                    route,
                    key,
                    state,
                    reason,
                    target,
                    operation,
                    version,
                    seq,
                    staged_id,
                    by_id,
                    by_seq,
                    by_staged,
                )
            )
    return result


def close_row(connection: Any, row_id: int, from_states: tuple[str, ...], reason: str, now: datetime) -> bool:
    """One row to ``superseded`` if it is still in ``from_states`` (a replay may have just taken it)."""
    done = connection.execute(
        update(OutboxRow)
        .where(OutboxRow.id == row_id, OutboxRow.state.in_(from_states))
        .values(
            state=states.SUPERSEDED,
            updated_at=now,
            next_attempt_at=None,
            last_error=f"superseded: {reason}",
        )
    )
    return bool(done.rowcount)


@functools.cache
def _quarantine_statement():  # type: ignore[no-untyped-def]
    """The open quarantine entries of the acknowledged (main) rows' source records, older than the
    acknowledged row's staged version: from the rows' primary keys to their staged versions to the
    entries of the route."""
    acked = aliased(OutboxRow, name="acked")
    return (
        select(
            QuarantineEntry.id,
            QuarantineEntry.route,
            QuarantineEntry.record_key,
            QuarantineEntry.staged_id,
            QuarantineEntry.mapping_version,
            acked.id,
            acked.seq,
            acked.staged_id,
            acked.target,
        )
        .join(StagedRecord, StagedRecord.id == acked.staged_id)
        .join(
            QuarantineEntry,
            and_(
                QuarantineEntry.route == StagedRecord.route,
                QuarantineEntry.record_key == StagedRecord.record_key,
                QuarantineEntry.staged_id < StagedRecord.id,
            ),
        )
        .where(
            acked.id.in_(bindparam("ids", expanding=True)),
            acked.state == states.ACKNOWLEDGED,
            acked.parent_id.is_(None),
            QuarantineEntry.state == "open",
        )
    )


def _older_quarantine(connection: Any, ids: Sequence[int], now: datetime) -> list[Settled]:
    found = connection.execute(_quarantine_statement(), {"ids": list(ids)}).all()
    best: dict[int, Any] = {}
    for row in found:
        if row[0] not in best or row[7] > best[row[0]][7]:
            best[row[0]] = row
    result = []
    for entry_id, route, key, staged_id, version, by_id, by_seq, by_staged, target in (
        best[k] for k in sorted(best)
    ):
        reason = (
            f"a newer version of the record (staged #{by_staged}) was acknowledged by {target} "
            f"as version {by_seq} (row {by_id})"
        )
        if close_entry(connection, entry_id, now):
            result.append(
                Settled(
                    "quarantine",
                    entry_id,
                    route,
                    key,
                    "open",
                    reason,
                    mapping_version=version,
                    staged_id=staged_id,
                    by_row_id=by_id,
                    by_version=by_seq,
                    by_staged_id=by_staged,
                )
            )
    return result


def close_entry(connection: Any, entry_id: int, now: datetime) -> bool:
    done = connection.execute(
        update(QuarantineEntry)
        .where(QuarantineEntry.id == entry_id, QuarantineEntry.state == "open")
        .values(state=QUARANTINE_SUPERSEDED, resolved_at=now)
    )
    return bool(done.rowcount)


def newer_staged(session: Any, route: str, record_key: str, staged_id: int) -> list[tuple[int, str]]:
    """The staged versions of a source key newer than ``staged_id``: (id, state), oldest first."""
    return [
        (row_id, state)
        for row_id, state in session.execute(
            select(StagedRecord.id, StagedRecord.state)
            .where(
                StagedRecord.route == route,
                StagedRecord.record_key == record_key,
                StagedRecord.id > staged_id,
            )
            .order_by(StagedRecord.id)
        ).all()
    ]


def newer_acknowledged(session: Any, row: Any) -> Any:
    """The newest acknowledged row of the same (target, operation, key) with a higher seq, or None."""
    return session.execute(
        select(OutboxRow)
        .where(
            OutboxRow.target == row.target,
            OutboxRow.operation == row.operation,
            OutboxRow.record_key == row.record_key,
            OutboxRow.seq > row.seq,
            OutboxRow.state == states.ACKNOWLEDGED,
        )
        .order_by(OutboxRow.seq.desc())
        .limit(1)
    ).scalar_one_or_none()
