"""Settling at mapping time (``transform``): the verdict of a newer version closes older alarms of the
same source key.  The rules are in :mod:`lienthong.store.settle`; this is the half that runs in the
transaction that maps a chunk, before its ledger entries are appended."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import select

from lienthong import states
from lienthong.store.models import OutboxRow, QuarantineEntry, StagedRecord
from lienthong.store.settle import Settled, chunks, close_entry, close_row


def settle_quarantine_at_mapping(
    connection: Any, route: str, newer: Iterable[tuple[str, int, str]], now: datetime
) -> list[Settled]:
    """At mapping time: ``newer`` is (source key, staged id, verdict) of versions that were quarantined,
    filtered or found unchanged; each closes the open entries of its key with an older staged version."""
    newest: dict[str, tuple[int, str]] = {}
    for key, staged_id, verdict in newer:
        if key not in newest or staged_id > newest[key][0]:
            newest[key] = (staged_id, verdict)
    result: list[Settled] = []
    keys = sorted(newest)
    for chunk in chunks(keys):
        entries = connection.execute(
            select(
                QuarantineEntry.id,
                QuarantineEntry.record_key,
                QuarantineEntry.staged_id,
                QuarantineEntry.mapping_version,
            )
            .where(
                QuarantineEntry.route == route,
                QuarantineEntry.record_key.in_(chunk),
                QuarantineEntry.state == "open",
            )
            .order_by(QuarantineEntry.id)
        ).all()
        for entry_id, key, staged_id, version in entries:
            by_staged, verdict = newest[key]
            if staged_id >= by_staged:
                continue
            reason = f"a newer version of the record (staged #{by_staged}) was {verdict} at mapping"
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
                        by_staged_id=by_staged,
                    )
                )
    return result


def settle_rows_of_filtered(
    connection: Any, route: str, newer: Iterable[tuple[str, int]], now: datetime
) -> list[Settled]:
    """At mapping time: a newer version that is ``filtered`` (outside the route's selection by design:
    nothing of the record will be sent any more) closes the dead and review rows of its older staged
    versions, and their pending follow-ups.  ``newer`` is (source key, staged id).  A filtered version
    has no target key: the rows are found through their ``staged_id``."""
    newest: dict[str, int] = {}
    for key, staged_id in newer:
        newest[key] = max(staged_id, newest.get(key, 0))
    result: list[Settled] = []
    for chunk in chunks(sorted(newest)):
        rows = connection.execute(
            select(
                OutboxRow.id,
                OutboxRow.target,
                OutboxRow.operation,
                OutboxRow.record_key,
                OutboxRow.seq,
                OutboxRow.state,
                OutboxRow.mapping_version,
                OutboxRow.staged_id,
                StagedRecord.record_key,
            )
            .join(StagedRecord, StagedRecord.id == OutboxRow.staged_id)
            .where(
                StagedRecord.route == route,
                StagedRecord.record_key.in_(chunk),
                OutboxRow.state.in_((states.DEAD, states.REVIEW)),
            )
            .order_by(OutboxRow.id)
        ).all()
        closed: list[int] = []
        for row_id, target, operation, key, seq, state, version, staged_id, source_key in rows:
            by_staged = newest[source_key]
            if staged_id >= by_staged:
                continue
            reason = f"a newer version of the record (staged #{by_staged}) is outside the route's selection"
            if close_row(connection, row_id, (states.DEAD, states.REVIEW), reason, now):
                closed.append(row_id)
                result.append(
                    Settled(
                        "outbox",
                        row_id,
                        route,
                        key,
                        state,
                        reason,
                        target=target,
                        operation=operation,
                        mapping_version=version,
                        version=seq,
                        staged_id=staged_id,
                        by_staged_id=by_staged,
                    )
                )
        if closed:
            followups = connection.execute(
                select(
                    OutboxRow.id,
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
                    OutboxRow.route == route,
                    OutboxRow.state.in_((states.PENDING, states.RETRY_SCHEDULED)),
                    OutboxRow.parent_id.in_(closed),
                )
                .order_by(OutboxRow.id)
            ).all()
            for row_id, target, operation, key, seq, state, version, staged_id, parent_id in followups:
                reason = (
                    f"left behind: its parent (row {parent_id}) was superseded by a filtered newer version"
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
                            target=target,
                            operation=operation,
                            mapping_version=version,
                            version=seq,
                            staged_id=staged_id,
                        )
                    )
    return result
