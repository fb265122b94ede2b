"""What the portal accepted, with per-record write and repeat counts, behind one lock.

The counts are the point: an integration test asserts "no loss, no duplicate effect" by reading how
many *effective* writes each dossier received (``writes``: the stored content changed; the first
create counts as 1) and how many writes merely repeated what was stored (``repeats``: a retry after a
lost answer, or an update identical to the current content).  ``versions`` lists the content hash of
every effective write in order, so a test can check that versions arrived in order and none was lost;
``history`` (only with ``GET /_sim/received?history=1``) is the content of each effective write, so a
test can compare what arrived, and in which order, with what the source says.

``answers_lost`` counts, per service, the items of requests that took effect but whose answer never
reached the client (a fault dropped it, or the client had gone): a client that resends only what it
could not know was applied makes at most that many repeats and ``-3`` answers.

Running totals are kept incrementally so ``GET /_sim/received?summary=1`` stays cheap with 10,000+
dossiers.  The server is threaded: every read and write of the store happens under ``self._lock``.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

Outcome = Literal["written", "repeat", "exists", "missing"]


def content_hash(data: Any) -> str:
    """SHA-256 of canonical JSON (sorted keys, no spaces, UTF-8): equal content, equal hash."""
    canonical = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def progress_identity(data: dict[str, Any]) -> tuple[str, str]:
    """A progress record is identified, within its dossier, by when and by whom it was handled."""
    return str(data.get("ThoiDiemXuLy")), str(data.get("NguoiXuLy"))


def catalogue_key(data: dict[str, Any]) -> str:
    return f"{data.get('MaTTHC')}|{data.get('MaCoQuan')}"


@dataclass
class Entry:
    """One stored record: its last accepted content and how it got there."""

    data: dict[str, Any]
    digest: str
    writes: int = 1
    repeats: int = 0
    versions: list[str] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.history:
            self.history.append(self.data)

    def to_dict(self, history: bool = False) -> dict[str, Any]:
        answer = {
            "data": self.data,
            "writes": self.writes,
            "repeats": self.repeats,
            "versions": list(self.versions),
        }
        if history:
            answer["history"] = list(self.history)
        return answer


class _Kind:
    """Counters for one kind of record (dossiers, progress, catalogue)."""

    def __init__(self) -> None:
        self.records = 0
        self.writes = 0
        self.repeats = 0

    def as_dict(self, prefix: str, noun: str) -> dict[str, int]:
        return {noun: self.records, f"{prefix}_writes": self.writes, f"{prefix}_repeats": self.repeats}


class Store:
    """The accepted-data store of the portal simulator (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.dossiers: dict[str, Entry] = {}
            self.progress: dict[str, dict[tuple[str, str], Entry]] = {}
            self.catalogue: dict[str, Entry] = {}
            self.rejected: Counter[str] = Counter()
            self.calls: Counter[str] = Counter()
            self.answers_lost: Counter[str] = Counter()
            self.logins = 0
            self.login_failures = 0
            self._dossier_totals = _Kind()
            self._progress_totals = _Kind()
            self._catalogue_totals = _Kind()

    # --- writes ----------------------------------------------------------------------------------------
    def create_dossier(self, data: dict[str, Any]) -> Outcome:
        digest = content_hash(data)
        with self._lock:
            key = data["MaHoSo"]
            if key in self.dossiers:
                return "exists"
            self.dossiers[key] = Entry(data=data, digest=digest, versions=[digest])
            self._dossier_totals.records += 1
            self._dossier_totals.writes += 1
            return "written"

    def update_dossier(self, data: dict[str, Any]) -> Outcome:
        digest = content_hash(data)
        with self._lock:
            entry = self.dossiers.get(data["MaHoSo"])
            if entry is None:
                return "missing"
            return _apply(entry, data, digest, self._dossier_totals)

    def upsert_progress(self, data: dict[str, Any]) -> Outcome:
        """Store a progress record; it needs its dossier to be on the portal first."""
        digest = content_hash(data)
        with self._lock:
            key = data["MaHoSo"]
            if key not in self.dossiers:
                return "missing"
            records = self.progress.setdefault(key, {})
            identity = progress_identity(data)
            entry = records.get(identity)
            if entry is None:
                records[identity] = Entry(data=data, digest=digest, versions=[digest])
                self._progress_totals.records += 1
                self._progress_totals.writes += 1
                return "written"
            return _apply(entry, data, digest, self._progress_totals)

    def upsert_catalogue(self, data: dict[str, Any]) -> Outcome:
        digest = content_hash(data)
        with self._lock:
            key = catalogue_key(data)
            entry = self.catalogue.get(key)
            if entry is None:
                self.catalogue[key] = Entry(data=data, digest=digest, versions=[digest])
                self._catalogue_totals.records += 1
                self._catalogue_totals.writes += 1
                return "written"
            return _apply(entry, data, digest, self._catalogue_totals)

    # --- bookkeeping -------------------------------------------------------------------------------------
    def count_call(self, service: str) -> None:
        with self._lock:
            self.calls[service] += 1

    def count_login(self, ok: bool) -> None:
        with self._lock:
            if ok:
                self.logins += 1
            else:
                self.login_failures += 1

    def count_lost(self, service: str, items: int) -> None:
        """A request of ``service`` carrying ``items`` items took effect; its answer was lost."""
        with self._lock:
            self.answers_lost[service] += items

    def reject(self, code: str, count: int = 1) -> None:
        with self._lock:
            self.rejected[code] += count

    # --- reads -------------------------------------------------------------------------------------------
    def get_dossier(self, mahoso: str) -> dict[str, Any] | None:
        with self._lock:
            entry = self.dossiers.get(mahoso)
            return entry.data if entry else None

    def totals(self) -> dict[str, Any]:
        with self._lock:
            return self._totals()

    def _totals(self) -> dict[str, Any]:
        return {
            **self._dossier_totals.as_dict("dossier", "dossiers"),
            **self._progress_totals.as_dict("progress", "progress_records"),
            **self._catalogue_totals.as_dict("catalogue", "catalogue_entries"),
            "rejected": sum(self.rejected.values()),
            "calls": dict(self.calls),
            "answers_lost": dict(self.answers_lost),
            "logins": self.logins,
            "login_failures": self.login_failures,
        }

    def snapshot(
        self, summary: bool = False, mahoso: str | None = None, history: bool = False
    ) -> dict[str, Any]:
        """The ``/_sim/received`` document: everything, totals only, or one dossier; ``history`` adds
        the content of every effective write of each record."""
        with self._lock:
            answer: dict[str, Any] = {"totals": self._totals(), "rejected": dict(self.rejected)}
            if summary:
                return answer
            keys = [mahoso] if mahoso is not None else list(self.dossiers)
            answer["dossiers"] = {k: self.dossiers[k].to_dict(history) for k in keys if k in self.dossiers}
            answer["progress"] = {
                k: [entry.to_dict(history) for entry in self.progress[k].values()]
                for k in keys
                if k in self.progress
            }
            if mahoso is None:
                answer["catalogue"] = {k: entry.to_dict(history) for k, entry in self.catalogue.items()}
            return answer


def _apply(entry: Entry, data: dict[str, Any], digest: str, totals: _Kind) -> Outcome:
    """Replace the stored content (last version wins), or count a repeat when nothing changed."""
    if digest == entry.digest:
        entry.repeats += 1
        totals.repeats += 1
        return "repeat"
    entry.data, entry.digest = data, digest
    entry.writes += 1
    entry.versions.append(digest)
    entry.history.append(data)
    totals.writes += 1
    return "written"
