"""The mapping versions that mapped the window's record versions, and the "older mapping" figure.

A mapping version is the hash of a route file and every file it references (code lists, schemas); each
staged version keeps the one that mapped it last.  First and last use come from what was made with it
(outbox rows, quarantine entries) for the route.  Which *acknowledged* records would now get a different
payload is not a question of version hashes (any edit, even a comment, makes a new hash): that figure
belongs to ``lienthong remap`` (``lienthong.remap.stale_mapping_counts``), shown when that module exists.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lienthong.report.model import MappingVersion
from lienthong.store.models import OutboxRow, QuarantineEntry, StagedRecord


def mapping_versions(
    session: Session, route: str, start: datetime | None, end: datetime | None, current: str | None
) -> list[MappingVersion]:
    """Newest first (by last use)."""
    query = (
        select(
            StagedRecord.mapping_version,
            func.count(),
            func.count(func.distinct(StagedRecord.record_key)),
        )
        .where(StagedRecord.route == route, StagedRecord.mapping_version.is_not(None))
        .group_by(StagedRecord.mapping_version)
    )
    if start is not None:
        query = query.where(StagedRecord.staged_at >= start)
    if end is not None:
        query = query.where(StagedRecord.staged_at < end)
    counts = {version: (versions, records) for version, versions, records in session.execute(query)}
    if not counts:
        return []
    used: dict[str, list[datetime]] = {}
    for table, column in ((OutboxRow, OutboxRow.created_at), (QuarantineEntry, QuarantineEntry.created_at)):
        rows = session.execute(
            select(table.mapping_version, func.min(column), func.max(column))
            .where(table.route == route, table.mapping_version.in_(list(counts)))
            .group_by(table.mapping_version)
        )
        for version, first, last in rows:
            used.setdefault(version, []).extend(m for m in (first, last) if m is not None)
    found = [
        MappingVersion(
            version,
            versions,
            records,
            min(used[version]) if used.get(version) else None,
            max(used[version]) if used.get(version) else None,
            version == current,
        )
        for version, (versions, records) in counts.items()
    ]
    return sorted(found, key=lambda v: (v.last_used or datetime.min, v.version), reverse=True)


def stale_mapping(store: Any, route: str) -> tuple[int | None, str | None]:
    """(records acknowledged under an older mapping whose payload would now differ, error).

    The figure is the last one ``lienthong remap`` (or ``remap --dry-run``) computed over the whole
    route (``lienthong.drift``): ``(None, None)`` when it never ran (nothing is known, nothing is
    claimed); an error text when the mapping changed since it was computed, or it cannot be read: the
    report then says so and is not green."""
    from lienthong.drift import last_drift

    try:
        drift = last_drift(store, route)
    except Exception as exc:  # noqa: BLE001 - a figure that cannot be computed is shown as such
        return None, f"could not be counted ({type(exc).__name__})"
    if drift is None:
        return None, None
    if not drift.current:
        return None, (
            f"out of date: the mapping changed after it was counted ({drift.would_change} then); "
            f"run `lienthong remap {route} --dry-run`"
        )
    return drift.would_change, None
