"""The audit's writes through the DB-API connection under SQLAlchemy, inside the caller's transaction.

An append is three statements and a handful of rows on every delivery batch.  Through SQLAlchemy,
the per-statement execution context and the per-row type processing cost several times the
statements themselves; through the driver's own cursor they do not (``docs/audit.md``, "Measured").

On PostgreSQL every statement is also a round trip to the server, and psycopg's ``executemany``
costs more per row than the row itself: the writes that need no answer (archived bodies, ledger
rows, the head's new position) go as ONE statement whose text never changes — each insert a
data-modifying CTE over ``unnest`` of one array per column, the ``UPDATE`` last — so psycopg keeps
its parsed form and the server a prepared plan.  (Multi-row ``VALUES`` was tried first: its text
changes with the row count, and psycopg parsed every one of them again, ~0.3 ms each.)  SQLite (no
round trips, a C ``executemany``) runs the statements one by one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Table:
    """Where an :class:`Insert` goes: columns with their PostgreSQL types (for the ``unnest`` casts)."""

    name: str
    columns: tuple[tuple[str, str], ...]  # (column, PostgreSQL type)
    conflict: str = ""  # e.g. "ON CONFLICT (digest) DO NOTHING"

    @property
    def names(self) -> str:
        return ", ".join(name for name, _ in self.columns)

    def row_sql(self) -> str:
        """One row per execution (``executemany``), ``?`` placeholders."""
        marks = ", ".join("?" for _ in self.columns)
        return f"INSERT INTO {self.name} ({self.names}) VALUES ({marks}) {self.conflict}".rstrip()

    def arrays_sql(self) -> str:
        """Every row at once from one array per column (PostgreSQL).  The arrays go in psycopg's
        binary format (``%b``): the text format escapes every element with a regular expression,
        which cost more than the whole insert for the archive's sealed bodies."""
        arrays = ", ".join(f"%b::{pg_type}[]" for _, pg_type in self.columns)
        return (
            f"INSERT INTO {self.name} ({self.names}) SELECT * FROM unnest({arrays}) {self.conflict}".rstrip()
        )


@dataclass(frozen=True)
class Insert:
    """Rows for one table, written by :meth:`DriverCursor.write`."""

    table: Table
    rows: Sequence[Sequence[Any]]

    def arrays(self) -> list[list[Any]]:
        width = len(self.table.columns)
        return [list(column) for column in zip(*self.rows, strict=True)] if self.rows else [[]] * width


def driver_of(connection: Any) -> Any:
    """The SQLAlchemy Connection under a Session (or the Connection itself)."""
    return connection.connection() if hasattr(connection, "get_bind") else connection


def stored_at(at: datetime, postgres: bool) -> Any:
    """``at`` as the driver takes it: SQLite has no datetime type; SQLAlchemy's ``DateTime`` stores
    this exact text there (and reads it back), so rows written either way read alike."""
    return at if postgres else at.strftime("%Y-%m-%d %H:%M:%S.%f")


class DriverCursor:
    """A cursor of the DB-API connection under ``connection``.  SQL is written with ``?``
    placeholders, turned into ``%s`` for drivers of the format styles (psycopg)."""

    def __init__(self, connection: Any) -> None:
        driver = driver_of(connection)
        self._cursor = driver.connection.dbapi_connection.cursor()
        self._format = driver.dialect.paramstyle in ("format", "pyformat")

    def __enter__(self) -> DriverCursor:
        return self

    def __exit__(self, *exc: object) -> None:
        self._cursor.close()

    def _sql(self, sql: str) -> str:
        return sql.replace("?", "%s") if self._format else sql

    def execute(self, sql: str, parameters: Sequence[Any] = ()) -> DriverCursor:
        self._cursor.execute(self._sql(sql), parameters)
        return self

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            self._cursor.executemany(self._sql(sql), rows)

    def first(self) -> Any:
        return self._cursor.fetchone()

    def write(self, inserts: Sequence[Insert], final: tuple[str, Sequence[Any]] | None = None) -> None:
        """The ``inserts``, then ``final`` (an ``UPDATE``): one statement on PostgreSQL, one per
        insert on SQLite.  Every insert is in the statement even when it has no rows, so its text
        depends only on which tables are written."""
        if not self._format:
            for insert in inserts:
                self.executemany(insert.table.row_sql(), insert.rows)
            if final is not None:
                self.execute(*final)
            return
        if not inserts and final is None:
            return
        ctes = [f"w{n} AS ({insert.table.arrays_sql()})" for n, insert in enumerate(inserts)]
        parameters: list[Any] = [array for insert in inserts for array in insert.arrays()]
        if final is not None:
            last, final_parameters = final
            parameters += list(final_parameters)
        else:  # a statement must end in something: the last insert's rows, counted
            ctes[-1] = ctes[-1][:-1] + " RETURNING 1)"
            last = f"SELECT count(*) FROM w{len(inserts) - 1}"
        self.execute((f"WITH {', '.join(ctes)} " if ctes else "") + last, parameters)
