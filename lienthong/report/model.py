"""The report's data, as plain values: what every renderer (text, CSV, HTML) draws from.

Collected once by :mod:`lienthong.report.collect`; renderers never query the store.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from lienthong.reconcile import Reconciliation
from lienthong.record_gap import KeyFate, RecordCounts

MAX_DAYS = 62  # past this many source days, charts and tables group the records by month


@dataclass(frozen=True)
class Slice:
    """One route's record versions pulled by one agency on one day (Vietnam time)."""

    agency: str  # agency code, "" when the route has no source.agency
    day: str  # yyyy-mm-dd, the day the versions were pulled (Asia/Ho_Chi_Minh): the pull date
    counts: Reconciliation


@dataclass(frozen=True)
class MappingVersion:
    """A mapping version that mapped record versions of the window."""

    version: str  # sha256:… of the route file and every file it references
    versions: int  # record versions of the window mapped with it (their latest mapping)
    records: int  # distinct record keys among them
    first_used: datetime | None  # naive UTC: first outbox row or quarantine entry made with it
    last_used: datetime | None
    current: bool  # the version of the route files on disk now

    @property
    def short(self) -> str:
        return self.version.removeprefix("sha256:")[:12]


@dataclass
class RouteData:
    route: str
    operation: str  # the route's main target operation (DongBoHoSoMC, DongBoDVCTT, ...)
    totals: Reconciliation
    slices: list[Slice] = field(default_factory=list)
    #: Records (keys) by their latest version's fate: per agency, and per the Vietnam day of the
    #: record's last change at the source (its own date, not the pull date).
    records_by_agency: dict[str, RecordCounts] = field(default_factory=dict)
    records_by_day: dict[str, RecordCounts] = field(default_factory=dict)
    gap: list[KeyFate] = field(default_factory=list)  # the listed gap keys, worst first
    mapping_versions: list[MappingVersion] = field(default_factory=list)
    #: Acknowledged records sent under an older mapping whose payload would now differ
    #: (``lienthong.remap.stale_mapping_counts``); None when that figure does not exist in this build.
    stale_mapping: int | None = None
    stale_mapping_error: str | None = None  # the figure exists but could not be computed

    @property
    def records(self) -> RecordCounts:
        return self.totals.records

    @property
    def gap_total(self) -> int:
        return self.totals.records.gap

    @property
    def gap_left_out(self) -> int:
        return self.gap_total - len(self.gap)

    def records_by_period(self) -> tuple[str, dict[str, RecordCounts]]:
        """("day", records per source day), or ("month", per source month) when there are more than
        :data:`MAX_DAYS` days: a chart of hundreds of one-record days says nothing."""
        if len(self.records_by_day) <= MAX_DAYS:
            return "day", self.records_by_day
        months: dict[str, RecordCounts] = {}
        for day, counts in self.records_by_day.items():
            month = day[:7] if day[:4].isdigit() else day
            months.setdefault(month, RecordCounts()).merge(counts)
        return "month", dict(sorted(months.items()))

    def by_agency(self) -> dict[str, Reconciliation]:
        return _merge(self.slices, lambda s: s.agency)

    def by_day(self) -> dict[str, Reconciliation]:
        """Record versions per pull day (Vietnam time)."""
        return _merge(self.slices, lambda s: s.day)


@dataclass(frozen=True)
class CatalogueFigure:
    """Procedures an agency offers online (selected by the catalogue route) and how many of them the
    national portal holds (acknowledged): the "97 of 121" figure."""

    agency: str
    offered: int
    acknowledged: int  # of the offered, procedures the national portal acknowledged

    @property
    def share(self) -> float | None:
        return self.acknowledged / self.offered if self.offered else None


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


@dataclass(frozen=True)
class LedgerState:
    """The audit ledger's last verification (``audit_verifications``) and its signed head."""

    verified_at: datetime | None = None  # naive UTC; None: never verified
    ok: bool | None = None
    entries: int = 0
    verified_seq: int = 0  # the ledger's last seq that verification covered
    checkpoints: int = 0  # signed checkpoints it checked
    problem: str | None = None  # masked
    head_seq: int = 0  # the ledger's head now
    signed_seq: int | None = None  # the newest signed checkpoint: seq, hash, when, key
    signed_hash: str | None = None
    signed_at: datetime | None = None
    signed_key: str | None = None

    @property
    def never_verified(self) -> bool:
        return self.verified_at is None

    @property
    def unverified_entries(self) -> int:
        """Entries appended since the last verification."""
        return max(self.head_seq - self.verified_seq, 0)


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
    ledger: LedgerState = field(default_factory=LedgerState)

    def agency_name(self, code: str | None) -> str:
        return self.agency_names.get(code or "") or code or "(no agency)"

    @property
    def ok(self) -> bool:
        """Nothing lost (every version and every key in a known state); open items are another matter:
        see :mod:`lienthong.report.banner`."""
        return all(route.totals.ok for route in self.routes)

    def records(self) -> RecordCounts:
        total = RecordCounts()
        for route in self.routes:
            total.merge(route.records)
        return total


_ADDITIVE = (
    "pulled mapped quarantined filtered unchanged attempted acknowledged dead pending review superseded "
    "awaiting_mapping missing"
).split()


def merge_counts(target: Reconciliation, other: Reconciliation) -> None:
    """Add ``other``'s counts into ``target`` (every count is additive over disjoint groups)."""
    for name in _ADDITIVE:
        setattr(target, name, getattr(target, name) + getattr(other, name))
    for state, items in other.followups.items():
        target.followups[state] = target.followups.get(state, 0) + items
    target.records.merge(other.records)


def _merge(slices: list[Slice], key) -> dict[str, Reconciliation]:  # noqa: ANN001
    merged: dict[str, Reconciliation] = {}
    for piece in slices:
        name = key(piece)
        if name not in merged:
            merged[name] = Reconciliation(piece.counts.route, piece.counts.start, piece.counts.end)
        merge_counts(merged[name], piece.counts)
    return dict(sorted(merged.items()))
