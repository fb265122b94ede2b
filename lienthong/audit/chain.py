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

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import text

from lienthong.audit import canonical
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
_COLUMNS = (*canonical.FIELDS, "prev_hash", "hash")
_INSERT_SQL = f"INSERT INTO audit_ledger ({', '.join(_COLUMNS)}) VALUES ({', '.join(['?'] * len(_COLUMNS))})"
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


def driver_of(connection: Any) -> Any:
    """The Connection under a Session (or the Connection itself)."""
    return connection.connection() if hasattr(connection, "get_bind") else connection


class DriverCursor:
    """A cursor of the DB-API connection under ``connection``, inside the caller's transaction.

    The audit's statements go through it, not through SQLAlchemy: an append is three statements and
    a handful of rows on every delivery batch, and SQLAlchemy's per-statement execution context and
    per-row type processing cost several times the statements themselves (``docs/audit.md``).  SQL
    is written with ``?`` placeholders and turned into ``%s`` for drivers of the format styles."""

    def __init__(self, connection: Any) -> None:
        driver = driver_of(connection)
        self._cursor = driver.connection.cursor()
        self._format = driver.dialect.paramstyle in ("format", "pyformat")

    def _sql(self, sql: str) -> str:
        return sql.replace("?", "%s") if self._format else sql

    def execute(self, sql: str, parameters: Sequence[Any] = ()) -> DriverCursor:
        self._cursor.execute(self._sql(sql), parameters)
        return self

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self._cursor.executemany(self._sql(sql), rows)

    def first(self) -> Any:
        return self._cursor.fetchone()

    def close(self) -> None:
        self._cursor.close()


def lock_head(connection: Any, postgres: bool, cursor: DriverCursor | None = None) -> tuple[int, str]:
    """Take the head lock and read the head (seq, hash), in one statement on the common path: a
    no-op update locks the row on PostgreSQL and takes the write lock on SQLite."""
    cursor = cursor or DriverCursor(connection)
    row = cursor.execute(_TAKE_HEAD_SQL).first()
    if row is None:  # the head row was emptied (a test truncating every table): recreate it
        driver_of(connection).execute(
            _ENSURE_HEAD_PG if postgres else _ENSURE_HEAD_SQLITE, {"genesis": canonical.GENESIS}
        )
        row = cursor.execute(_TAKE_HEAD_SQL).first()
    return int(row[0]), str(row[1])


def stored_at(at: datetime, postgres: bool) -> Any:
    """``at`` as the driver takes it: SQLite has no datetime type; SQLAlchemy's ``DateTime`` stores
    this exact text there (and reads it back), so entries written either way read alike."""
    return at if postgres else at.strftime("%Y-%m-%d %H:%M:%S.%f")


def append(connection: Any, store: Any, events: Sequence[Event | Prepared]) -> int:
    """Append ``events`` in the transaction of ``connection`` (a Session or a Connection); returns the
    seq of the last entry (0 when nothing was appended).  Does nothing when the audit is off."""
    from lienthong.audit.config import enabled

    if not events or not enabled(store):
        return 0
    prepared = prepare(events)
    postgres = bool(store.is_postgres)
    cursor = DriverCursor(connection)
    seq, prev = lock_head(connection, postgres, cursor)
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
    cursor.executemany(_INSERT_SQL, rows)
    cursor.execute(_MOVE_HEAD_SQL, (seq, prev))
    cursor.close()
    return seq


def append_now(store: Any, events: Sequence[Event]) -> int:
    """Append in a transaction of its own (events with no state change of their own: unmask, purge)."""
    with store.engine.begin() as connection:
        return append(connection, store, events)


def head(store: Any) -> tuple[int, str]:
    with store.engine.connect() as connection:
        row = connection.execute(_READ_HEAD).first()
    return (int(row[0]), str(row[1])) if row else (0, canonical.GENESIS)
