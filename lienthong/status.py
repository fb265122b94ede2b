"""The gateway's state at a glance, per route: shared by ``lienthong status`` and the status plugin.

Alarms a newer version settled (``superseded``: ``lienthong.store.settle``) are not open and are not
counted as dead, review or quarantined.  ``mapping_drift`` is the last computed number of delivered
records the current mapping would change (``lienthong.remap``; computed by ``remap``/``remap --dry-run``,
not here: it maps every delivered record), with its time and whether the mapping changed since."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from lienthong.drift import last_drift
from lienthong.store import outbox
from lienthong.store.models import QuarantineEntry, Run, Tombstone, Watermark


def gateway_status(gateway) -> dict[str, Any]:  # noqa: ANN001
    store = gateway.store
    try:
        route_names = sorted(gateway.routes())
    except Exception:  # noqa: BLE001 - status must still show the store when a route file is broken
        route_names = []
    with store.session() as session:
        known = set(session.execute(select(Run.route).distinct()).scalars())
    routes = []
    for name in sorted(set(route_names) | known):
        with store.session() as session:
            mark = session.get(Watermark, name)
            last = session.execute(
                select(Run).where(Run.route == name).order_by(Run.id.desc()).limit(1)
            ).scalar_one_or_none()
            open_quarantine = session.execute(
                select(func.count())
                .select_from(QuarantineEntry)
                .where(QuarantineEntry.route == name, QuarantineEntry.state == "open")
            ).scalar_one()
            tombstones = session.execute(
                select(func.count())
                .select_from(Tombstone)
                .where(Tombstone.route == name, Tombstone.state == "review")
            ).scalar_one()
        routes.append(
            {
                "route": name,
                "watermark": mark.source_updated if mark else None,
                "outbox": outbox.state_counts(store, route=name),
                "blocked": outbox.blocked_count(store, route=name),
                "quarantine_open": open_quarantine,
                "tombstones": tombstones,
                "mapping_drift": _drift(store, name),
                "last_run": (
                    {
                        "id": last.id,
                        "status": last.status,
                        "kind": last.kind,
                        "actor": last.actor,
                        "finished_at": last.finished_at.strftime("%Y-%m-%d %H:%M:%S")
                        if last.finished_at
                        else None,
                    }
                    if last
                    else None
                ),
            }
        )
    return {"store": store.describe(), "routes": routes}


def _drift(store, route: str) -> dict[str, Any] | None:  # noqa: ANN001
    drift = last_drift(store, route)
    return drift.to_dict() if drift is not None else None
