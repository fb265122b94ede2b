"""The figure ``status`` shows per route: how many delivered records were sent under an older mapping,
counted as records whose payload the current mapping *would change* (``lienthong.remap``).

The mapping version hashes the whole route file and its code lists, so a comment or a schedule edit is a
new version that changes no payload: counting rows by ``mapping_version`` would call every delivered
record stale after any edit.  Knowing which payloads would differ means mapping every delivered record
again, so the figure is computed on demand (``remap``, ``remap --dry-run``, the DAG's ``remap`` run)
over the whole route, kept in the ledger (``mapping_drift``: codes and counts only) and read back here
with its time.  A figure computed before the route's last ``mapping_change`` is marked out of date.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from lienthong.audit import events as audit_events
from lienthong.audit import hooks as audit_hooks
from lienthong.audit.chain import Event
from lienthong.audit.config import enabled
from lienthong.store.models import LedgerEntry
from lienthong.workers import worker_id


def record_drift(store: Any, route: str, version: str, stale: int, checked: int, actor: str) -> None:
    """The figure ``status`` shows: delivered records of ``route`` the mapping ``version`` would change."""
    if not enabled(store):
        return
    audit_hooks.append_now(
        store,
        [
            Event(
                audit_events.MAPPING_DRIFT,
                route=route,
                mapping_version=version,
                actor=actor or worker_id(),
                outcome="checked",
                detail={"would_change": stale, "checked": checked},
            )
        ],
    )


@dataclass(frozen=True)
class Drift:
    """The last computed figure of a route: records sent under an older mapping that would change."""

    would_change: int
    checked: int
    at: datetime
    mapping_version: str | None
    current: bool  # False when the mapping changed after the figure was computed

    def to_dict(self) -> dict[str, Any]:
        return {
            "would_change": self.would_change,
            "checked": self.checked,
            "at": self.at.isoformat(sep=" ", timespec="seconds"),
            "mapping_version": self.mapping_version,
            "current": self.current,
        }


def last_drift(store: Any, route: str) -> Drift | None:
    with store.session() as session:
        entry = session.execute(
            select(LedgerEntry)
            .where(LedgerEntry.event == audit_events.MAPPING_DRIFT, LedgerEntry.route == route)
            .order_by(LedgerEntry.seq.desc())
            .limit(1)
        ).scalar_one_or_none()
        if entry is None:
            return None
        changed_after = session.execute(
            select(func.count())
            .select_from(LedgerEntry)
            .where(
                LedgerEntry.event == audit_events.MAPPING_CHANGE,
                LedgerEntry.route == route,
                LedgerEntry.seq > entry.seq,
                LedgerEntry.mapping_version != entry.mapping_version,
            )
        ).scalar_one()
        detail = json.loads(entry.detail)
        return Drift(
            int(detail.get("would_change", 0)),
            int(detail.get("checked", 0)),
            entry.at,
            entry.mapping_version,
            changed_after == 0,
        )


def stale_mapping_counts(store: Any, route: str) -> int:
    """Delivered records of ``route`` whose payload the current mapping would change, as last computed
    (``remap``/``remap --dry-run`` over the whole route; 0 when never computed).  See :func:`last_drift`
    for the time and whether the mapping changed since."""
    drift = last_drift(store, route)
    return drift.would_change if drift is not None else 0
