"""The report's data, as plain values: what every renderer (text, CSV, HTML) draws from.

Collected once by :mod:`lienthong.report.collect`; renderers never query the store.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from lienthong.reconcile import Reconciliation


@dataclass(frozen=True)
class Slice:
    """One route's record versions pulled by one agency on one day (Vietnam time)."""

    agency: str  # agency code, "" when the route has no source.agency
    day: str  # yyyy-mm-dd, the day the versions were pulled (Asia/Ho_Chi_Minh)
    counts: Reconciliation


@dataclass
class RouteData:
    route: str
    operation: str  # the route's main target operation (DongBoHoSoMC, DongBoDVCTT, ...)
    totals: Reconciliation
    slices: list[Slice] = field(default_factory=list)

    def by_agency(self) -> dict[str, Reconciliation]:
        return _merge(self.slices, lambda s: s.agency)

    def by_day(self) -> dict[str, Reconciliation]:
        return _merge(self.slices, lambda s: s.day)


@dataclass(frozen=True)
class CatalogueFigure:
    """Procedures an agency offers online (selected by the catalogue route) and how many of them the
    national portal holds (acknowledged): the "97 of 121" figure."""

    agency: str
    offered: int
    synced: int

    @property
    def share(self) -> float | None:
        return self.synced / self.offered if self.offered else None


@dataclass(frozen=True)
class AgencyIndicators:
    """The portal's service indicators of one agency, recomputed from the dossiers it acknowledged."""

    agency: str
    dossiers: int  # dossiers the portal holds (latest acknowledged version of each)
    online: int  # of which received online (KenhThucHien 2)
    finished: int  # finished (NgayKetThucXuLy set) with a due date (NgayHenTra)
    on_time: int  # of which finished on or before the due date
    finished_undated: int = 0  # finished without a due date: not judged

    @property
    def online_share(self) -> float | None:
        return self.online / self.dossiers if self.dossiers else None

    @property
    def on_time_rate(self) -> float | None:
        return self.on_time / self.finished if self.finished else None


@dataclass
class ReportData:
    generated_at: datetime  # naive UTC
    start: datetime | None  # naive UTC, inclusive
    end: datetime | None  # naive UTC, exclusive
    routes: list[RouteData]
    agency_names: dict[str, str]
    catalogue_route: str | None = None
    catalogue: list[CatalogueFigure] = field(default_factory=list)
    dossier_route: str | None = None
    indicators: list[AgencyIndicators] = field(default_factory=list)

    def agency_name(self, code: str) -> str:
        return self.agency_names.get(code) or code or "(no agency)"

    @property
    def ok(self) -> bool:
        return all(route.totals.ok for route in self.routes)


_ADDITIVE = (
    "pulled mapped quarantined filtered unchanged delivered acknowledged dead pending review superseded "
    "awaiting_mapping missing"
).split()


def merge_counts(target: Reconciliation, other: Reconciliation) -> None:
    """Add ``other``'s counts into ``target`` (every count is additive over disjoint groups)."""
    for name in _ADDITIVE:
        setattr(target, name, getattr(target, name) + getattr(other, name))
    for state, items in other.followups.items():
        target.followups[state] = target.followups.get(state, 0) + items


def _merge(slices: list[Slice], key) -> dict[str, Reconciliation]:  # noqa: ANN001
    merged: dict[str, Reconciliation] = {}
    for piece in slices:
        name = key(piece)
        if name not in merged:
            merged[name] = Reconciliation(piece.counts.route, piece.counts.start, piece.counts.end)
        merge_counts(merged[name], piece.counts)
    return dict(sorted(merged.items()))
