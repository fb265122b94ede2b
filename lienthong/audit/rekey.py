"""Re-encrypting sealed values under the current archive key (after putting a new key first).

Old keys stay in the ring until this has run; values already under the current key are left as they
are, so the command can be stopped and run again.  Plain values (written with the audit switched
off) are sealed too.  Raw SQL on purpose: the values are read as stored, not opened by the column type.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from lienthong.audit.config import config_for
from lienthong.audit.sealing import current_pattern, reseal

#: (table, primary key, sealed columns, the key's lowest value)
TABLES = (
    ("staged_records", "id", ("body",), -1),
    ("outbox", "id", ("payload", "response"), -1),
    ("audit_archive", "digest", ("body",), ""),
)


def rekey(store: Any, batch: int = 1000) -> dict[str, int]:
    ring = config_for(store).keyring
    current = current_pattern(ring.current_id)
    counts: dict[str, int] = {}
    for table, key, columns, lowest in TABLES:
        done = 0
        for column in columns:
            select = text(
                f"SELECT {key}, {column} FROM {table} WHERE {column} IS NOT NULL AND {column} NOT LIKE :current "
                f"AND {column} <> 'null' AND {key} > :last ORDER BY {key} LIMIT :batch"
            )
            update = text(f"UPDATE {table} SET {column} = :value WHERE {key} = :pk")
            last: Any = lowest
            while True:
                with store.engine.begin() as connection:
                    rows = connection.execute(
                        select, {"current": current, "last": last, "batch": batch}
                    ).all()
                    if not rows:
                        break
                    connection.execute(
                        update, [{"pk": pk, "value": reseal(value, ring)} for pk, value in rows]
                    )
                last = rows[-1][0]
                done += len(rows)
        counts[table] = done
    return counts
