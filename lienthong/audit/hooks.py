"""Where the engine calls the audit: one small function per step, each writing in the caller's
transaction, so the pipeline modules need a line or two each and know nothing of chains or keys."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select

from lienthong.audit import actors, archive, events
from lienthong.audit.chain import Event, Prepared, append, append_now
from lienthong.audit.config import config_for, enabled, seal_for
from lienthong.jsoncanon import digest
from lienthong.store.models import LedgerEntry
from lienthong.workers import worker_id

log = logging.getLogger(__name__)


def seal(store: Any, text: str) -> str:
    """Personal data at rest: staged bodies, outbox payloads and responses are written sealed."""
    return seal_for(store, text)


def staged(session: Any, store: Any, route: str, new_rows: Sequence[Any]) -> None:
    """``pulled`` for every new staged version (after the insert, to know their ids)."""
    if not new_rows or not enabled(store):
        return
    session.flush()
    actor = worker_id()
    append(session, store, [events.pulled(route, row, actor) for row in new_rows])


def mapping_version(store: Any, route: str, version: str) -> None:
    """A ``mapping_change`` entry when the route's mapping version differs from the last recorded."""
    if not enabled(store):
        return
    with store.engine.begin() as connection:
        last = connection.execute(
            select(LedgerEntry.mapping_version)
            .where(LedgerEntry.event == events.MAPPING_CHANGE, LedgerEntry.route == route)
            .order_by(LedgerEntry.seq.desc())
            .limit(1)
        ).scalar()
        if last == version:
            return
        append(
            connection,
            store,
            [
                Event(
                    events.MAPPING_CHANGE,
                    route=route,
                    mapping_version=version,
                    actor=worker_id(),
                    outcome="changed" if last else "first",
                    detail={"previous": last},
                )
            ],
        )


class Queued:
    """What a transform chunk queued, per staged version: outbox rows and their sealed payloads."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self.rows: dict[int, list[dict[str, Any]]] = {}
        self.bodies: list[tuple[str, str, str]] = []

    def seal(self, text: str) -> str:
        """Sealed once, bound to the payload's digest (its ``payload_hash``): the same sealed text
        goes to the outbox and to the archive."""
        return seal_for(self.store, text, kind="request", digest=digest(text))

    def add(self, staged_id: int, values: dict[str, Any], row_id: int) -> None:
        self.rows.setdefault(staged_id, []).append(
            {
                "row_id": row_id,
                "target": values["target"],
                "operation": values["operation"],
                "version": values["seq"],
                "payload_digest": values["payload_hash"],
                "state": values["state"],
            }
        )
        self.bodies.append((values["payload_hash"], "request", values["payload"]))


def transformed(
    session: Any,
    store: Any,
    route: str,
    version: str,
    decisions: Sequence[tuple[Any, str, Any]],
    queued: Queued,
    main_target: tuple[str, str] | None,
    superseded: Sequence[Any] = (),
) -> None:
    """One entry per staged version of the chunk (mapped, quarantined, filtered or unchanged), a
    ``review`` entry for every row queued straight to review, and the queued payloads archived."""
    if not enabled(store):
        return
    actor = worker_id()
    entries: list[Event] = []
    for staged_row, verdict, detail in decisions:
        if verdict == "quarantined":
            errors = [{"field": e.field, "rule": e.rule} for e in getattr(detail, "errors", [])]
            entries.append(events.map_verdict(route, staged_row, verdict, version, actor, errors=errors))
            continue
        if verdict == "filtered":
            entries.append(events.map_verdict(route, staged_row, verdict, version, actor))
            continue
        rows = queued.rows.get(staged_row.id)
        entries.append(
            events.map_verdict(
                route,
                staged_row,
                "mapped" if rows else "unchanged",
                version,
                actor,
                rows=rows,
                target=main_target,
            )
        )
        for row in rows or ():
            if row["state"] == "review":
                entries.append(
                    Event(
                        events.REVIEW,
                        route=route,
                        record_key=staged_row.record_key,
                        target=row["target"],
                        operation=row["operation"],
                        mapping_version=version,
                        actor=actor,
                        outcome="review",
                        detail={"row_id": row["row_id"], "version": row["version"]},
                    )
                )
    entries.extend(events.superseded(item, actor) for item in superseded)  # settled by this chunk
    bodies = archive.insert_of(store, queued.bodies)
    append(session, store, entries, along=[bodies] if bodies else [])


class DeliveryAudit:
    """A delivery batch's ledger entries and archived answers, written with its outcomes."""

    def __init__(
        self, store: Any, rows: Sequence[Any], outcomes: Sequence[Any], owner: str, calls: int, millis: float
    ):
        self.store = store
        self.entries: list[Prepared] = []  # encoded here, before the lock its write takes
        self.bodies: list[tuple[str, str, str]] = []
        #: SQLite: the delivery threads' audited writes queue on the store's process lock (the one its
        #: claims take) rather than on SQLite's busy handler, which sleeps in steps of milliseconds.
        self.lock = store.claim_lock if not store.is_postgres and enabled(store) else None
        by_id = {row.id: row for row in rows}
        audit_on = enabled(store)
        for outcome in outcomes:
            response_digest = None
            if outcome.response is not None:
                response_digest = digest(outcome.response)
                # The answer may name the person: sealed, bound to its digest.
                outcome.response = seal_for(store, outcome.response, kind="response", digest=response_digest)
                if audit_on:
                    self.bodies.append((response_digest, "response", outcome.response))
            row = by_id.get(outcome.row_id)
            if row is not None and audit_on:
                event = events.attempt(
                    row, outcome, owner, calls=calls, millis=millis, response_digest=response_digest
                )
                self.entries.append(Prepared.of(event))

    def add_superseded(self, settled: Sequence[Any]) -> None:
        """The alarms this batch's acknowledgements settled (``lienthong.store.settle``), written with
        the batch's entries (one head lock)."""
        if enabled(self.store):
            actor = worker_id()
            self.entries.extend(Prepared.of(events.superseded(item, actor)) for item in settled)

    def __call__(self, connection: Any) -> None:
        bodies = archive.insert_of(self.store, self.bodies)
        append(connection, self.store, self.entries, along=[bodies] if bodies else [])


def replays(
    session: Any,
    store: Any,
    items: Sequence[Any],
    *,
    kind: str,
    mode: str,
    replay_id: int | None,
    actor: str,
    note: str | None = None,
    overwrites: dict[int, dict[str, Any]] | None = None,
) -> None:
    """``overwrites``: per item id, the newer version a ``--force-stale`` replay goes over."""
    overwrites = overwrites or {}
    entries = [
        events.replayed(
            item,
            kind=kind,
            mode=mode,
            replay_id=replay_id,
            actor=actor,
            note=note,
            overwrites=overwrites.get(item.id),
        )
        for item in items
    ]
    for entry in entries:
        actors.stamp(entry.detail)  # who the system knows, beside the asserted actor
    append(session, store, entries)


def superseded(connection: Any, store: Any, settled: Sequence[Any], actor: str) -> None:
    """``superseded`` entries for alarms closed outside a delivery batch or a mapped chunk."""
    append(connection, store, [events.superseded(item, actor) for item in settled])


#: A person's decision on a tombstone or a review row (``lienthong tombstones|review resolve``).
RESOLVED = "resolved"


def resolved(session: Any, store: Any, item: Any, resolution: Any) -> None:
    """``resolved`` for a decision on a tombstone or a review row: the asserted actor as the entry's
    actor, the OS user, decision and note (masked, as a replay's) in its detail."""
    from lienthong.masking import mask_text

    if not enabled(store):
        return
    detail: dict[str, Any] = {
        "kind": resolution.kind,
        "item_id": item.id,
        "resolution_id": resolution.id,
        "os_user": resolution.os_user,
        "note": mask_text(resolution.note)[:500],
    }
    append(
        session,
        store,
        [
            Event(
                RESOLVED,
                route=item.route,
                record_key=item.record_key,
                target=getattr(item, "target", None),
                operation=getattr(item, "operation", None),
                mapping_version=getattr(item, "mapping_version", None),
                actor=resolution.actor,
                outcome=resolution.decision,
                detail=detail,
            )
        ],
    )


def after_run(store: Any) -> None:
    """A signed checkpoint of the chain head at the end of every run (never fails the run)."""
    if not enabled(store):
        return
    from lienthong.audit.checkpoints import make_checkpoint

    try:
        make_checkpoint(store, config_for(store))
    except Exception as exc:  # noqa: BLE001 - the run's own outcome stands; verify will say what is missing
        log.warning("audit checkpoint not written: %s", type(exc).__name__)


def after_batch(store: Any, audit: DeliveryAudit) -> None:
    """After a delivery batch committed: a signed checkpoint every N entries / T seconds of this
    process (``lienthong.audit.checkpoints.after_entries``), so a live store's unsigned tail stays
    small.  A checkpoint that cannot be written does not fail the delivery (verify reports the tail)."""
    if not audit.entries or not enabled(store):
        return
    from lienthong.audit.checkpoints import after_entries

    try:
        after_entries(store, config_for(store), len(audit.entries))
    except Exception as exc:  # noqa: BLE001 - the batch's outcome stands; verify will say what is unsigned
        log.warning("audit checkpoint not written: %s", type(exc).__name__)


__all__ = [
    "DeliveryAudit",
    "Queued",
    "after_batch",
    "after_run",
    "append_now",
    "mapping_version",
    "replays",
    "resolved",
    "seal",
    "staged",
    "superseded",
    "transformed",
]
