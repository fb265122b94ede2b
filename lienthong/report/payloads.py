"""The report's one read of acknowledged payloads.

The indicators and the catalogue figure are computed from what the targets *acknowledged*, i.e. the
outbox payloads, not from the source: that is the data the national portal computes its own figures
from.  Payloads may be encrypted at rest; the ``outbox.payload`` column type opens them on read
(:mod:`lienthong.audit.sealing`), so this is the only place in the report that touches them, and the
only place to change if that accessor changes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lienthong import states
from lienthong.store.models import OutboxRow, StagedRecord


@dataclass(frozen=True)
class Acknowledged:
    record_key: str
    agency: str | None  # staged_records.agency of the acknowledged version
    payload: dict[str, Any]


def acknowledged_payloads(
    session: Session, route: str, start: datetime | None, end: datetime | None
) -> Iterator[Acknowledged]:
    """Per record key of ``route``, the newest acknowledged main payload (what the target holds now),
    among versions pulled in ``[start, end)``."""
    newest = select(func.max(OutboxRow.id).label("id")).join(
        StagedRecord, StagedRecord.id == OutboxRow.staged_id
    )
    newest = newest.where(
        OutboxRow.route == route,
        OutboxRow.parent_id.is_(None),
        OutboxRow.state == states.ACKNOWLEDGED,
        StagedRecord.route == route,
    )
    if start is not None:
        newest = newest.where(StagedRecord.staged_at >= start)
    if end is not None:
        newest = newest.where(StagedRecord.staged_at < end)
    newest_ids = newest.group_by(OutboxRow.record_key).subquery("newest")
    query = (
        select(OutboxRow.record_key, StagedRecord.agency, OutboxRow.payload)
        .join(newest_ids, newest_ids.c.id == OutboxRow.id)
        .join(StagedRecord, StagedRecord.id == OutboxRow.staged_id)
        .order_by(OutboxRow.record_key)
        .execution_options(yield_per=2000)
    )
    for record_key, agency, payload in session.execute(query):
        yield Acknowledged(record_key, agency, json.loads(payload))
