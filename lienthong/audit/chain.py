"""Appending to the ledger: one chain per store, gapless seqs, safe with concurrent writers.

Entries are appended inside the caller's transaction (the state change they record commits with
them or not at all), as one batch: one head lock, then the rows and the head's new position
(``lienthong.audit.driver``: one statement on PostgreSQL, an ``executemany`` and an update on SQLite).

The head row (``audit_head``) serialises appenders:
- PostgreSQL: a no-op ``UPDATE … RETURNING`` locks it until the caller's transaction ends;
- SQLite: the first statement of the append is a write to it, which takes the database's write
  lock (held until commit; other writers wait on the busy timeout): one writer at a time, in this
  process or any other.

Appending is the last thing a transaction does, so every appender takes the head lock last and no
two transactions can wait on each other in a cycle.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import text

from lienthong.audit import canonical
from lienthong.audit.driver import DriverCursor, Insert, Table, driver_of, stored_at
from lienthong.clock import utcnow


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
_TAKE_HEAD_SQL = "UPDATE audit_head SET seq = seq WHERE id = 1 RETURNING seq, hash"
_READ_HEAD = text("SELECT seq, hash FROM audit_head WHERE id = 1")
#: The ledger's columns in FIELDS order, then the two hashes, with their PostgreSQL types.
LEDGER = Table(
    "audit_ledger",
    (
        ("seq", "integer"),
        ("at", "timestamp"),
        *((name, "text") for name in canonical.FIELDS[2:]),
        ("prev_hash", "text"),
        ("hash", "text"),
    ),
)
_MOVE_HEAD_SQL = "UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1"


@dataclass(frozen=True)
class Prepared:
    """An event encoded up to its place in the chain: everything but ``seq`` and ``at``.

    Preparing is the costly part of an append (the detail's canonical JSON, the entry's JSON), so
    callers that hold a lock while appending (the delivery path) prepare before taking it."""

    values: tuple[Any, ...]  # event … detail, in FIELDS order (FIELDS[2:])
    tail: str  # their canonical JSON array text without its brackets

    @classmethod
    def of(cls, event: Event) -> Prepared:
        # Empty text is stored as null: an export to CSV (no null there) must give back the same bytes.
        values = (
            event.event,
            event.route or None,
            event.record_key or None,
            event.target or None,
            event.operation or None,
            event.mapping_version or None,
            event.actor or None,
            event.outcome or None,
            canonical.detail_text(event.detail),
        )
        return cls(values, canonical.encode_fields(values))


def prepare(events: Sequence[Event | Prepared]) -> list[Prepared]:
    return [e if isinstance(e, Prepared) else Prepared.of(e) for e in events]


def lock_head(connection: Any, postgres: bool, cursor: DriverCursor) -> tuple[int, str]:
    """Take the head lock and read the head (seq, hash), in one statement on the common path: a
    no-op update locks the row on PostgreSQL and takes the write lock on SQLite."""
    row = cursor.execute(_TAKE_HEAD_SQL).first()
    if row is None:  # the head row was emptied (a test truncating every table): recreate it
        driver_of(connection).execute(
            _ENSURE_HEAD_PG if postgres else _ENSURE_HEAD_SQLITE, {"genesis": canonical.GENESIS}
        )
        row = cursor.execute(_TAKE_HEAD_SQL).first()
    return int(row[0]), str(row[1])


def append(
    connection: Any,
    store: Any,
    events: Sequence[Event | Prepared],
    *,
    along: Sequence[Insert] = (),
) -> int:
    """Append ``events`` in the transaction of ``connection`` (a Session or a Connection); returns the
    seq of the last entry (0 when nothing was appended).  Does nothing when the audit is off.

    ``along``: other audit rows of the same transaction (the archived bodies), written with the
    entries: one statement on PostgreSQL (:meth:`DriverCursor.write`)."""
    from lienthong.audit.config import enabled

    if not enabled(store):
        return 0
    if not events:
        if along:
            with DriverCursor(connection) as cursor:
                cursor.write(along)
        return 0
    prepared = prepare(events)
    postgres = bool(store.is_postgres)
    with DriverCursor(connection) as cursor:
        seq, prev = lock_head(connection, postgres, cursor)
        rows = _chained(prepared, seq, prev, postgres)
        entries = Insert(LEDGER, rows)
        cursor.write([*along, entries], (_MOVE_HEAD_SQL, (rows[-1][0], rows[-1][-1])))
    return int(rows[-1][0])


def _chained(prepared: Sequence[Prepared], seq: int, prev: str, postgres: bool) -> list[tuple[Any, ...]]:
    """The rows of ``prepared`` numbered after ``seq`` and hashed in a chain from ``prev``."""
    at = utcnow()
    head_text = f',"{canonical.format_at(at)}",'
    at_value = stored_at(at, postgres)
    rows = []
    sha256 = hashlib.sha256
    for entry in prepared:
        seq += 1
        encoded = f"[{seq}{head_text}{entry.tail}]".encode()
        digest = sha256(prev.encode("ascii") + b"\n" + encoded).hexdigest()
        rows.append((seq, at_value, *entry.values, prev, digest))
        prev = digest
    return rows


def append_now(store: Any, events: Sequence[Event]) -> int:
    """Append in a transaction of its own (events with no state change of their own: unmask, purge)."""
    with store.engine.begin() as connection:
        return append(connection, store, events)


def head(store: Any) -> tuple[int, str]:
    with store.engine.connect() as connection:
        row = connection.execute(_READ_HEAD).first()
    return (int(row[0]), str(row[1])) if row else (0, canonical.GENESIS)
