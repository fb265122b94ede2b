"""Collecting the report's data from the store: a handful of GROUP BY queries, one pass over the keys
(:mod:`lienthong.record_gap`), and one pass over the acknowledged payloads of the catalogue and dossier
routes.

Two kinds of day, both Vietnam days (Asia/Ho_Chi_Minh, UTC+7 all year: no daylight saving): the
**pull date** of record versions (``staged_at``, grouped in SQL on SQLite and PostgreSQL alike), and
the **record's own date**, the day of its latest change at the source (``source_updated``), by which
the records' fates are charted.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from lienthong import states
from lienthong.clock import utcnow
from lienthong.reconcile import (
    Reconciliation,
    counting_session,
    missing_record_keys,
    naive_utc,
    version_counts,
)
from lienthong.record_gap import RecordCounts, count_fates, gap_list, record_fates
from lienthong.report.gap_details import gap_details
from lienthong.report.indicators import agency_indicators
from lienthong.report.ledger import ledger_state
from lienthong.report.model import (
    AgencyIndicators,
    CatalogueFigure,
    ReportData,
    RouteData,
    Slice,
    merge_counts,
)
from lienthong.report.names import AgencyNames, codelist_names
from lienthong.report.payloads import acknowledged_payloads
from lienthong.report.versions import mapping_versions, stale_mapping
from lienthong.store.db import Store
from lienthong.store.models import StagedRecord

CATALOGUE_OPERATION = "DongBoDVCTT"
DOSSIER_OPERATION = "DongBoHoSoMC"
VN_OFFSET = timedelta(hours=7)


def vietnam_day(store: Store) -> ColumnElement[Any]:
    """``staged_at`` as a Vietnam calendar day, in the database's own dialect."""
    if store.is_postgres:
        return func.to_char(StagedRecord.staged_at + VN_OFFSET, "YYYY-MM-DD")
    return func.strftime("%Y-%m-%d", StagedRecord.staged_at, "+7 hours")


def collect_report(
    store: Store,
    routes: dict[str, str],
    start: datetime | None = None,
    end: datetime | None = None,
    mappings_dir: Path | None = None,
    *,
    current_versions: dict[str, str] | None = None,
    gap_limit: int | None = None,
) -> ReportData:
    """``routes``: route name → its main target operation (which tells the catalogue and dossier routes
    apart); the window ``[start, end)`` selects record versions by when they were pulled, and records
    (keys) that have a version in it.  ``current_versions``: route → the mapping version of the files on
    disk (marks "current"); ``gap_limit``: list at most that many gap records per route (None: all;
    the counts always cover every one)."""
    start, end = naive_utc(start), naive_utc(end)
    names = AgencyNames(codelist_names(mappings_dir))
    data = ReportData(generated_at=utcnow(), start=start, end=end, routes=[], agency_names={})
    current_versions = current_versions or {}
    with counting_session(store) as session:
        for route, operation in sorted(routes.items()):
            route_data = _route_data(session, store, route, operation, start, end, gap_limit)
            route_data.mapping_versions = mapping_versions(
                session, route, start, end, current_versions.get(route)
            )
            data.routes.append(route_data)
        data.ledger = ledger_state(session)
        for route, operation in sorted(routes.items()):
            if operation == CATALOGUE_OPERATION and data.catalogue_route is None:
                data.catalogue_route = route
                data.catalogue = _catalogue(session, route, start, end, names)
            elif operation == DOSSIER_OPERATION and data.dossier_route is None:
                data.dossier_route = route
                data.indicators = _indicators(session, route, start, end, names)
    for route_data in data.routes:
        route_data.stale_mapping, route_data.stale_mapping_error = stale_mapping(store, route_data.route)
    data.agency_names = names.as_dict()
    return data


def _route_data(
    session: Session,
    store: Store,
    route: str,
    operation: str,
    start: datetime | None,
    end: datetime | None,
    gap_limit: int | None,
) -> RouteData:
    by = (func.coalesce(StagedRecord.agency, ""), vietnam_day(store))
    groups = version_counts(session, route, start, end, by=by)
    slices = [Slice(str(agency), str(day), counts) for (agency, day), counts in sorted(groups.items())]
    totals = Reconciliation(route=route, start=start, end=end)
    for piece in slices:
        merge_counts(totals, piece.counts)
    fates = record_fates(session, route, start, end)
    totals.records = count_fates(fates)
    if totals.missing:
        include_staged = totals.awaiting_mapping == 0
        totals.missing_keys = missing_record_keys(session, route, start, end, include_staged=include_staged)
    by_agency: dict[str, RecordCounts] = defaultdict(RecordCounts)
    by_day: dict[str, RecordCounts] = defaultdict(RecordCounts)
    for item in fates:
        by_agency[item.agency or ""].add(item.fate)
        by_day[item.source_day].add(item.fate)
    listed = gap_list(fates)
    if gap_limit is not None:
        listed = listed[:gap_limit]
    gap_details(session, route, listed)
    return RouteData(
        route,
        operation,
        totals,
        slices,
        records_by_agency=dict(sorted(by_agency.items())),
        records_by_day=dict(sorted(by_day.items())),
        gap=listed,
    )


def _latest_versions(
    session: Session, route: str, start: datetime | None, end: datetime | None
) -> Iterable[tuple[str, str | None, str]]:
    """(record key, agency, state) of each key's newest version pulled in the window."""
    newest = select(func.max(StagedRecord.id)).where(StagedRecord.route == route)
    if start is not None:
        newest = newest.where(StagedRecord.staged_at >= start)
    if end is not None:
        newest = newest.where(StagedRecord.staged_at < end)
    newest = newest.group_by(StagedRecord.record_key)
    return session.execute(
        select(StagedRecord.record_key, StagedRecord.agency, StagedRecord.state).where(
            StagedRecord.id.in_(newest)
        )
    ).all()


def _catalogue(
    session: Session, route: str, start: datetime | None, end: datetime | None, names: AgencyNames
) -> list[CatalogueFigure]:
    """Offered online: keys whose newest version the route's select kept (not ``filtered``: today the
    online level FULL/PARTIAL); acknowledged: of those, keys the portal acknowledged (any version)."""
    offered: dict[str, set[str]] = defaultdict(set)
    for key, agency, state in _latest_versions(session, route, start, end):
        if state != states.FILTERED:
            offered[agency or ""].add(key)
    offered_keys = {key: agency for agency, keys in offered.items() for key in keys}
    acknowledged: dict[str, int] = defaultdict(int)
    for item in acknowledged_payloads(session, route, start, end):
        agency = item.agency or str(item.payload.get("MaCoQuan") or "")
        names.seen(agency, item.payload.get("TenCoQuan"))
        if offered_keys.get(item.record_key) == (item.agency or ""):
            acknowledged[agency] += 1
    figures = [
        CatalogueFigure(agency, len(keys), acknowledged.get(agency, 0)) for agency, keys in offered.items()
    ]
    return sorted(figures, key=lambda f: (-f.offered, f.agency))


def _indicators(
    session: Session, route: str, start: datetime | None, end: datetime | None, names: AgencyNames
) -> list[AgencyIndicators]:
    per_agency: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for item in acknowledged_payloads(session, route, start, end):
        agency = item.agency or ""
        names.seen(agency, item.payload.get("DonViXuLy"))
        per_agency[agency].append(item.payload)
    rows = [agency_indicators(agency, payloads) for agency, payloads in per_agency.items()]
    return sorted(rows, key=lambda r: (-r.dossiers, r.agency))
