"""The gap per record: what is open about each record *key*, judged by its latest version's fate.

A record (a dossier, a procedure of an agency) changes at the source and is pulled as several
versions; an old version replaced by a newer one is history, not a problem.  What an operator must
act on is each key's **latest version** (the newest ``staged_records`` row of the key, as of now):

- ``quarantined``, ``filtered``: that version's own state after mapping;
- ``staged``: ``awaiting_mapping`` while a run of the route is running, else ``missing``;
- ``mapped`` / ``unchanged``: the state of what the target holds or will hold for the key: for every
  outbox slot the key's versions fed (target, operation, target key: the main payload and each
  follow-up list), the slot's **newest row**; the worst of them decides (``dead`` > ``review`` >
  ``superseded`` > ``blocked`` > ``pending`` > ``acknowledged``).  An ``unchanged`` latest version thus
  takes the fate of the row whose payload it equals (a dead row stays dead); a ``mapped`` latest version
  without a row of its own, or a row in a state the engine does not know, is ``missing``.
- a key with an open tombstone (deleted at the source, ``tombstones.state`` not ``resolved``) is
  ``tombstone`` whatever its latest version's fate, unless that fate is ``missing`` (a loss is
  always shown as one).

Each key is in exactly one fate.  ``settled`` = acknowledged + filtered; the **gap** is every other key:
``on_the_way`` (pending, awaiting mapping), ``needs_person`` (quarantined, dead, review, blocked,
superseded with nothing newer, tombstone) and ``missing``.

A window ``[start, end)`` selects the keys that have at least one version pulled in it; their fate is
still their latest version's (a version pulled after the window settles the key).  Two queries whatever
the volume (keys with their latest version and worst slot row; open tombstones), hash joins only (see
:func:`lienthong.reconcile.counting_session`); the details of gap keys (reason, since when) are read
only for the keys a report lists (:func:`lienthong.report.gap_details.gap_details`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import BigInteger, Select, and_, case, cast, func, literal, select
from sqlalchemy.orm import Session, aliased

from lienthong import states
from lienthong.store.models import OutboxRow, Run, StagedRecord, Tombstone

VIETNAM = timezone(timedelta(hours=7))  # Asia/Ho_Chi_Minh: UTC+7 all year, no daylight saving
NO_DAY = "(no source date)"
_RANK_BASE = 10_000_000_000  # rank × base + row id: the worst row and its id in one MAX()

ACKNOWLEDGED = "acknowledged"
FILTERED = "filtered"
PENDING = "pending"
AWAITING_MAPPING = "awaiting_mapping"
QUARANTINED = "quarantined"
DEAD = "dead"
REVIEW = "review"
BLOCKED = "blocked"
SUPERSEDED = "superseded"
TOMBSTONE = "tombstone"
MISSING = "missing"

SETTLED_FATES = (ACKNOWLEDGED, FILTERED)
ON_THE_WAY_FATES = (PENDING, AWAITING_MAPPING)
#: In the order a report lists them (and the banner names them).
NEEDS_PERSON_FATES = (QUARANTINED, DEAD, REVIEW, BLOCKED, SUPERSEDED, TOMBSTONE)
FATES = (*SETTLED_FATES, *ON_THE_WAY_FATES, *NEEDS_PERSON_FATES, MISSING)
GAP_ORDER = (MISSING, *NEEDS_PERSON_FATES, *ON_THE_WAY_FATES)

#: How a fate is named to a reader (one word per meaning, the same in every format).
FATE_WORDS = {
    ACKNOWLEDGED: "acknowledged",
    FILTERED: "filtered (out of scope)",
    PENDING: "pending (on its way)",
    AWAITING_MAPPING: "awaiting mapping",
    QUARANTINED: "quarantined",
    DEAD: "dead",
    REVIEW: "in review",
    BLOCKED: "blocked",
    SUPERSEDED: "superseded, nothing newer queued",
    TOMBSTONE: "deleted at the source (tombstone)",
    MISSING: "missing",
}

#: The fate of a key whose slot's newest row is in this state (worst rank wins; unknown → missing).
_ROW_RANK = {
    states.ACKNOWLEDGED: 0,
    states.PENDING: 1,
    states.IN_FLIGHT: 1,
    states.RETRY_SCHEDULED: 1,
    states.BLOCKED: 2,
    states.SUPERSEDED: 3,
    states.REVIEW: 4,
    states.DEAD: 5,
}
_RANK_FATE = {0: ACKNOWLEDGED, 1: PENDING, 2: BLOCKED, 3: SUPERSEDED, 4: REVIEW, 5: DEAD}
_UNKNOWN_RANK = 6


@dataclass
class RecordCounts:
    """Keys per fate; ``records`` = their sum.  Additive over disjoint groups (agencies, days)."""

    records: int = 0
    fates: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FATES, 0))

    def add(self, fate: str, n: int = 1) -> None:
        self.records += n
        self.fates[fate] = self.fates.get(fate, 0) + n

    def merge(self, other: RecordCounts) -> None:
        for fate, n in other.fates.items():
            if n:
                self.add(fate, n)

    def __getitem__(self, fate: str) -> int:
        return self.fates.get(fate, 0)

    @property
    def settled(self) -> int:
        return sum(self[f] for f in SETTLED_FATES)

    @property
    def on_the_way(self) -> int:
        return sum(self[f] for f in ON_THE_WAY_FATES)

    @property
    def needs_person(self) -> int:
        return sum(self[f] for f in NEEDS_PERSON_FATES)

    @property
    def gap(self) -> int:
        """Records not (yet) where they belong: every key that is neither acknowledged nor filtered."""
        return self.records - self.settled

    def to_dict(self) -> dict[str, Any]:
        return {
            "records": self.records,
            **{fate: self[fate] for fate in FATES},
            "gap": self.gap,
            "needs_person": self.needs_person,
            "on_the_way": self.on_the_way,
        }


@dataclass
class KeyFate:
    """One record key and its fate.  ``reason``/``since``/``target`` are filled for listed gap keys."""

    record_key: str
    agency: str | None
    fate: str
    staged_id: int  # the latest version
    staged_at: datetime  # when the latest version was pulled (naive UTC)
    source_updated: str  # the latest version's updatedDate at the source, as the source wrote it
    row_id: int | None = None  # the outbox row that decided (worst slot row)
    reason: str = ""
    since: datetime | None = None  # naive UTC
    target: str | None = None

    @property
    def source_day(self) -> str:
        return source_day(self.source_updated)

    @property
    def in_gap(self) -> bool:
        return self.fate not in SETTLED_FATES

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["staged_at"] = self.staged_at.isoformat(timespec="seconds")
        data["since"] = self.since.isoformat(timespec="seconds") if self.since else None
        data["source_day"] = self.source_day
        return data


def source_day(updated: str | None) -> str:
    """The Vietnam calendar day of a source ``updatedDate`` (``2025-01-14T08:30:00.000+0700``); a
    value without an offset is taken as Vietnam time (the one-stop system's own clock)."""
    if not updated:
        return NO_DAY
    try:
        moment = datetime.fromisoformat(updated.strip().replace("Z", "+00:00"))
    except ValueError:
        return NO_DAY
    if moment.tzinfo is not None:
        moment = moment.astimezone(VIETNAM)
    return moment.date().isoformat()


def _window(query: Select, column: Any, start: datetime | None, end: datetime | None) -> Select:
    if start is not None:
        query = query.where(column >= start)
    if end is not None:
        query = query.where(column < end)
    return query


def _keys_in_window(route: str, start: datetime | None, end: datetime | None) -> Select | None:
    if start is None and end is None:
        return None
    return _window(
        select(StagedRecord.record_key).where(StagedRecord.route == route),
        StagedRecord.staged_at,
        start,
        end,
    )


def _row_rank(parent: Any) -> Any:
    """The rank of an outbox row (a pending follow-up whose parent waits for a person: blocked)."""
    blocked = and_(OutboxRow.state == states.PENDING, parent.state.in_(states.BLOCKING_PARENT_STATES))
    whens = [(blocked, _ROW_RANK[states.BLOCKED])]
    whens += [
        (OutboxRow.state == state, rank) for state, rank in _ROW_RANK.items() if state != states.BLOCKED
    ]
    return case(*whens, else_=_UNKNOWN_RANK)


def _fates_query(route: str, start: datetime | None, end: datetime | None) -> Select:
    in_window = _keys_in_window(route, start, end)
    latest = select(StagedRecord.record_key.label("key"), func.max(StagedRecord.id).label("id")).where(
        StagedRecord.route == route
    )
    if in_window is not None:
        latest = latest.where(StagedRecord.record_key.in_(in_window))
    latest = latest.group_by(StagedRecord.record_key).subquery("latest")

    version = aliased(StagedRecord, name="version")
    slot = (
        select(
            version.record_key.label("key"),
            func.max(OutboxRow.id).label("row_id"),
            func.max(version.id).label("newest_with_rows"),
        )
        .select_from(OutboxRow)
        .join(version, version.id == OutboxRow.staged_id)
        .where(OutboxRow.route == route, version.route == route)
    )
    if in_window is not None:
        slot = slot.where(version.record_key.in_(in_window))
    slot = slot.group_by(
        version.record_key, OutboxRow.target, OutboxRow.operation, OutboxRow.record_key
    ).subquery("slot")

    parent = aliased(OutboxRow, name="parent")
    encoded = cast(_row_rank(parent), BigInteger) * literal(_RANK_BASE, BigInteger) + OutboxRow.id
    worst = (
        select(
            slot.c.key.label("key"),
            func.max(encoded).label("worst"),
            func.max(slot.c.newest_with_rows).label("newest_with_rows"),
        )
        .select_from(slot)
        .join(OutboxRow, OutboxRow.id == slot.c.row_id)
        .outerjoin(parent, parent.id == OutboxRow.parent_id)
        .group_by(slot.c.key)
        .subquery("worst")
    )
    return (
        select(
            latest.c.key,
            StagedRecord.id,
            StagedRecord.state,
            StagedRecord.agency,
            StagedRecord.source_updated,
            StagedRecord.staged_at,
            worst.c.worst,
            worst.c.newest_with_rows,
        )
        .select_from(latest)
        .join(StagedRecord, StagedRecord.id == latest.c.id)
        .outerjoin(worst, worst.c.key == latest.c.key)
    )


def _fate(state: str, worst: int | None, newest_with_rows: int | None, latest_id: int, running: bool):  # noqa: ANN202
    """(fate, deciding row id) of a key from its latest version's state and its worst slot row."""
    if state == states.QUARANTINED:
        return QUARANTINED, None
    if state == states.FILTERED:
        return FILTERED, None
    if state == states.STAGED:
        return (AWAITING_MAPPING if running else MISSING), None
    if state not in (states.MAPPED, states.UNCHANGED) or worst is None:
        return MISSING, None
    if state == states.MAPPED and newest_with_rows != latest_id:
        return MISSING, None  # mapped, yet no outbox row of its own
    rank, row_id = divmod(int(worst), _RANK_BASE)
    return _RANK_FATE.get(rank, MISSING), row_id


def open_tombstones(session: Session, route: str) -> dict[str, tuple[datetime, str]]:
    """Record key → (detected at, reason) of the route's tombstones not yet resolved."""
    rows = session.execute(
        select(Tombstone.record_key, Tombstone.detected_at, Tombstone.reason).where(
            Tombstone.route == route, Tombstone.state != "resolved"
        )
    ).all()
    return {key: (at, reason) for key, at, reason in rows}


def route_running(session: Session, route: str) -> bool:
    """A run of the route is under way: versions still ``staged`` are about to be mapped, not lost."""
    running = session.execute(
        select(func.count()).select_from(Run).where(Run.route == route, Run.status == "running")
    ).scalar_one()
    return running > 0


def record_fates(session: Session, route: str, start: datetime | None, end: datetime | None) -> list[KeyFate]:
    """Every key of ``route`` with a version pulled in ``[start, end)``, with its fate (see the module)."""
    running = route_running(session, route)
    tombstones = open_tombstones(session, route)
    fates = []
    for key, latest_id, state, agency, updated, staged_at, worst, newest in session.execute(
        _fates_query(route, start, end)
    ):
        fate, row_id = _fate(state, worst, newest, latest_id, running)
        if key in tombstones and fate != MISSING:
            fate = TOMBSTONE
        fates.append(KeyFate(key, agency, fate, latest_id, staged_at, updated or "", row_id))
    return fates


def count_fates(fates: Iterable[KeyFate]) -> RecordCounts:
    counts = RecordCounts()
    for item in fates:
        counts.add(item.fate)
    return counts


def gap_list(fates: Iterable[KeyFate]) -> list[KeyFate]:
    """The keys in the gap, worst first (missing, then what needs a person, then what is on its way)."""
    order = {fate: i for i, fate in enumerate(GAP_ORDER)}
    return sorted((f for f in fates if f.in_gap), key=lambda f: (order[f.fate], f.agency or "", f.record_key))


__all__ = [
    "FATES",
    "FATE_WORDS",
    "GAP_ORDER",
    "NEEDS_PERSON_FATES",
    "KeyFate",
    "RecordCounts",
    "count_fates",
    "gap_list",
    "open_tombstones",
    "record_fates",
    "source_day",
]
