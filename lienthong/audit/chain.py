"""Appending to the ledger: one chain per store, gapless seqs, safe with concurrent writers.

Entries are appended inside the caller's transaction (the state change they record commits with
them or not at all), as one batch: one head lock, one ``executemany`` insert, one head update.

The head row (``audit_head``) serialises appenders:
- PostgreSQL: ``SELECT … FOR UPDATE`` on it, held until the caller's transaction ends;
- SQLite: the first statement of the append is a write to it, which takes the database's write
  lock (held until commit; other writers wait on the busy timeout): one writer at a time, in this
  process or any other.

Appending is the last thing a transaction does, so every appender takes the head lock last and no
two transactions can wait on each other in a cycle.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import insert, text

from lienthong.audit import canonical
from lienthong.clock import utcnow
from lienthong.store.models import LedgerEntry


@dataclass
class Event:
    """One thing that happened, as the ledger records it (codes and digests only)."""

    event: str
    route: str | None = None
    record_key: str | None = None
    target: str | None = None
    operation: str | None = None
    mapping_version: str | None = None
    actor: str | None = None
    outcome: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


_ENSURE_HEAD_SQLITE = text("INSERT OR IGNORE INTO audit_head (id, seq, hash) VALUES (1, 0, :genesis)")
_ENSURE_HEAD_PG = text(
    "INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, :genesis) ON CONFLICT DO NOTHING"
)
_TAKE_HEAD = text("UPDATE audit_head SET seq = seq WHERE id = 1 RETURNING seq, hash")
_READ_HEAD = text("SELECT seq, hash FROM audit_head WHERE id = 1")
_MOVE_HEAD = text("UPDATE audit_head SET seq = :seq, hash = :hash WHERE id = 1")
_INSERT = insert(LedgerEntry)


def lock_head(connection: Any, postgres: bool) -> tuple[int, str]:
    """Take the head lock and read the head (seq, hash), in one statement on the common path: a
    no-op update locks the row on PostgreSQL and takes the write lock on SQLite."""
    row = connection.execute(_TAKE_HEAD).first()
    if row is None:  # the head row was emptied (a test truncating every table): recreate it
        connection.execute(
            _ENSURE_HEAD_PG if postgres else _ENSURE_HEAD_SQLITE, {"genesis": canonical.GENESIS}
        )
        row = connection.execute(_TAKE_HEAD).first()
    return int(row[0]), str(row[1])


def append(connection: Any, store: Any, events: Sequence[Event]) -> int:
    """Append ``events`` in the transaction of ``connection`` (a Session or a Connection); returns the
    seq of the last entry (0 when nothing was appended).  Does nothing when the audit is off."""
    from lienthong.audit.config import enabled

    if not events or not enabled(store):
        return 0
    seq, prev = lock_head(connection, store.is_postgres)
    at = utcnow()
    at_text = canonical.format_at(at)
    rows = []
    for event in events:
        seq += 1
        detail = canonical.detail_text(event.detail)
        # Empty text is stored as null: an export to CSV (no null there) must give back the same bytes.
        values = (
            seq,
            at_text,
            event.event,
            event.route or None,
            event.record_key or None,
            event.target or None,
            event.operation or None,
            event.mapping_version or None,
            event.actor or None,
            event.outcome or None,
            detail,
        )
        digest = canonical.entry_hash(prev, values)
        rows.append(
            {
                "seq": seq,
                "at": at,
                **dict(zip(canonical.FIELDS[2:], values[2:], strict=True)),
                "prev_hash": prev,
                "hash": digest,
            }
        )
        prev = digest
    connection.execute(_INSERT, rows)
    connection.execute(_MOVE_HEAD, {"seq": seq, "hash": prev})
    return seq


def append_now(store: Any, events: Sequence[Event]) -> int:
    """Append in a transaction of its own (events with no state change of their own: unmask, purge)."""
    with store.engine.begin() as connection:
        return append(connection, store, events)


def head(store: Any) -> tuple[int, str]:
    with store.engine.connect() as connection:
        row = connection.execute(_READ_HEAD).first()
    return (int(row[0]), str(row[1])) if row else (0, canonical.GENESIS)
