"""The mapping versions that mapped the window's record versions, and the "older mapping" figure.

A mapping version is the hash of a route file and every file it references (code lists, schemas); each
staged version keeps the one that mapped it last.  First and last use come from what was made with it
(outbox rows, quarantine entries) for the route.  Which *acknowledged* records would now get a different
payload is not a question of version hashes (any edit, even a comment, makes a new hash): that figure
belongs to ``lienthong remap`` (``lienthong.remap.stale_mapping_counts``), shown when that module exists.
"""

from __future__ import annotations

from collections.abc import Mapping
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

    ``(None, None)`` when this build has no ``lienthong.remap`` (the figure does not exist yet); an error
    text when it exists but fails: the report then says it could not be counted (and is not green)."""
    try:
        from lienthong.remap import stale_mapping_counts  # type: ignore[import-not-found]
    except ImportError:
        return None, None
    try:
        value = stale_mapping_counts(store, route)
    except Exception as exc:  # noqa: BLE001 - a figure that cannot be computed is shown as such
        return None, f"could not be counted ({type(exc).__name__})"
    count = as_count(value)
    if count is None:
        return None, f"could not be read (a {type(value).__name__})"
    return count, None


def as_count(value: Any) -> int | None:  # noqa: ANN401
    """The count in what ``stale_mapping_counts`` returns: an int, a mapping with ``stale``/``records``/
    ``total``/``count`` (else the sum of its integer values), or an object with one of those attributes."""
    names = ("stale", "records", "total", "count")
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, Mapping):
        for name in names:
            if isinstance(value.get(name), int):
                return int(value[name])
        numbers = [v for v in value.values() if isinstance(v, int) and not isinstance(v, bool)]
        return sum(numbers) if numbers else None
    for name in names:
        attribute = getattr(value, name, None)
        if isinstance(attribute, int) and not isinstance(attribute, bool):
            return attribute
    return None
