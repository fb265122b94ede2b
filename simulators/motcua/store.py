"""The overlay of changes on top of the generated dossiers, and the search that merges both.

Generated dossiers are never stored.  A change moves a dossier out of its generated position into the
*tail*: changed and appended dossiers get ``updatedDate`` from the change clock, which is strictly
greater than every generated date and every earlier change, so the tail is always sorted after the
generated range and a search is "the visible part of the generated index range, then the tail".
Deleted dossiers leave both.  Only the changed/appended/deleted dossiers cost memory.

Thread safety: one lock guards the overlay; a search takes a consistent snapshot of the positions it
needs under the lock and renders the generated dossiers outside it.
"""

from __future__ import annotations

import bisect
import copy
import threading
from dataclasses import dataclass, field
from typing import Any

from simulators.motcua.data import DossierGenerator
from simulators.motcua.timeline import CLOCK_START_MS, format_ms, parse_date

#: How far the change clock moves for each change: one second, so that changed dates read naturally.
CLOCK_STEP_MS = 1000


@dataclass
class SearchSlice:
    """One page of a search: generated indices to render and overlay dossiers (already dicts)."""

    total: int
    generated: list[int] = field(default_factory=list)
    overlay: list[dict[str, Any]] = field(default_factory=list)


class Overlay:
    """Changed, appended and deleted dossiers over one :class:`DossierGenerator`."""

    def __init__(self, generator: DossierGenerator) -> None:
        self.generator = generator
        self._lock = threading.Lock()
        self._clock_ms = CLOCK_START_MS
        self._next_index = generator.count
        self._hidden: list[int] = []  # sorted generated indices no longer at their generated position
        self._hidden_set: set[int] = set()
        self._tail: list[tuple[int, int]] = []  # sorted (updated ms, index) of changed/appended dossiers
        self._records: dict[int, dict[str, Any]] = {}  # index -> current dossier for tail members
        self._tail_ms: dict[int, int] = {}
        self._deleted: set[int] = set()
        self.changed: list[str] = []
        self.appended: list[str] = []
        self.deleted: list[str] = []

    # --- the clock -----------------------------------------------------------------------------
    def _tick(self) -> int:
        self._clock_ms += CLOCK_STEP_MS
        return self._clock_ms

    def tick(self) -> int:
        """The next instant of the change clock (also used for catalogue edits)."""
        with self._lock:
            return self._tick()

    @property
    def clock_ms(self) -> int:
        return self._clock_ms

    # --- reads ---------------------------------------------------------------------------------
    def index_of(self, dossier_id: str) -> int | None:
        index = self.generator.index_of(dossier_id)
        if index is None or index >= self._next_index:
            return None
        return index

    def get(self, dossier_id: str) -> dict[str, Any] | bytes | None:
        """The current dossier (a dict from the overlay or rendered JSON bytes), None if unknown/deleted."""
        index = self.index_of(dossier_id)
        if index is None:
            return None
        with self._lock:
            if index in self._deleted:
                return None
            record = self._records.get(index)
        if record is not None:
            return record
        return self.generator.render(index)

    def search(self, from_ms: int | None, to_ms: int | None, offset: int, size: int) -> SearchSlice:
        """Positions ``offset .. offset+size`` of the dossiers with ``from <= updatedDate <= to``."""
        timeline = self.generator.timeline
        count = self.generator.count
        lo = 0 if from_ms is None else timeline.first_at_or_after(from_ms)
        hi = count if to_ms is None else timeline.first_after(to_ms)
        hi = max(lo, hi)
        with self._lock:
            hidden = self._hidden
            h_lo, h_hi = bisect.bisect_left(hidden, lo), bisect.bisect_left(hidden, hi)
            generated_total = (hi - lo) - (h_hi - h_lo)
            t_lo = 0 if from_ms is None else bisect.bisect_left(self._tail, (from_ms, -1))
            t_hi = len(self._tail) if to_ms is None else bisect.bisect_right(self._tail, (to_ms, 1 << 62))
            result = SearchSlice(total=generated_total + max(0, t_hi - t_lo))
            if offset < generated_total:
                result.generated = self._visible(lo, hi, h_lo, offset, size)
            remaining = size - len(result.generated)
            if remaining > 0:
                start = t_lo + max(0, offset - generated_total)
                for _, index in self._tail[start : min(t_hi, start + remaining)]:
                    result.overlay.append(self._records[index])
        return result

    def _visible(self, lo: int, hi: int, h_lo: int, offset: int, size: int) -> list[int]:
        """Up to ``size`` visible generated indices from the ``offset``-th visible one in ``[lo, hi)``."""
        hidden = self._hidden

        def visible_before(j: int) -> int:  # visible indices in [lo, j)
            return (j - lo) - (bisect.bisect_left(hidden, j) - h_lo)

        a, b = lo, hi  # smallest j with visible_before(j + 1) > offset
        while a < b:
            mid = (a + b) // 2
            if visible_before(mid + 1) > offset:
                b = mid
            else:
                a = mid + 1
        out: list[int] = []
        p = bisect.bisect_left(hidden, a)
        j = a
        while j < hi and len(out) < size:
            if p < len(hidden) and hidden[p] == j:
                p += 1
            else:
                out.append(j)
            j += 1
        return out

    # --- writes --------------------------------------------------------------------------------
    def _current(self, index: int) -> dict[str, Any]:
        record = self._records.get(index)
        if record is not None:
            return copy.deepcopy(record)
        return self.generator.generate(index)

    def _place(self, index: int, record: dict[str, Any], ms: int) -> None:
        old = self._tail_ms.get(index)
        if old is not None:
            del self._tail[bisect.bisect_left(self._tail, (old, index))]
        elif index < self.generator.count and index not in self._hidden_set:
            bisect.insort(self._hidden, index)
            self._hidden_set.add(index)
        bisect.insort(self._tail, (ms, index))  # at the end, except for a restored old version
        self._tail_ms[index] = ms
        self._records[index] = record

    def update(self, dossier_id: str, changes: dict[str, Any]) -> dict[str, Any] | None:
        """Apply a merge patch; the dossier gets a new ``updatedDate`` and moves to the end of the order."""
        index = self.index_of(dossier_id)
        if index is None:
            return None
        with self._lock:
            if index in self._deleted:
                return None
            record = self._current(index)
            merge_patch(record, changes)
            ms = self._tick()
            record["updatedDate"] = format_ms(ms)
            self._place(index, record, ms)
            self.changed.append(dossier_id)
            return record

    def restore(self, dossier_id: str, record: dict[str, Any]) -> dict[str, Any] | None:
        """Serve ``record`` (a former version, e.g. from a backup) as the dossier, at its own
        ``updatedDate``: an incremental pull past that time does not see it, a resync does."""
        index = self.index_of(dossier_id)
        if index is None or record.get("id") != dossier_id:
            return None
        ms = parse_date(str(record.get("updatedDate")))
        with self._lock:
            if index in self._deleted:
                return None
            self._place(index, copy.deepcopy(record), ms)
            self.changed.append(dossier_id)
            return copy.deepcopy(record)

    def append(self, count: int) -> list[dict[str, Any]]:
        """New dossiers (just applied or just received), each at the next clock tick."""
        out = []
        with self._lock:
            for _ in range(count):
                index = self._next_index
                self._next_index += 1
                ms = self._tick()
                record = self.generator.generate(index, anchor_ms=ms, fresh=True)
                self._place(index, record, ms)
                self.appended.append(record["id"])
                out.append(record)
        return out

    def delete(self, dossier_id: str) -> bool:
        index = self.index_of(dossier_id)
        if index is None:
            return False
        with self._lock:
            if index in self._deleted:
                return False
            self._deleted.add(index)
            old = self._tail_ms.pop(index, None)
            if old is not None:
                del self._tail[bisect.bisect_left(self._tail, (old, index))]
                del self._records[index]
            elif index < self.generator.count and index not in self._hidden_set:
                bisect.insort(self._hidden, index)
                self._hidden_set.add(index)
            self.deleted.append(dossier_id)
            return True

    def summary(self, limit: int = 1000) -> dict[str, Any]:
        with self._lock:
            return {
                "clock": format_ms(self._clock_ms),
                "total_dossiers": self._next_index - len(self._deleted),
                "changed_count": len(self.changed),
                "appended_count": len(self.appended),
                "deleted_count": len(self.deleted),
                "changed": self.changed[-limit:],
                "appended": self.appended[-limit:],
                "deleted": self.deleted[-limit:],
            }


def merge_patch(target: dict[str, Any], patch: dict[str, Any]) -> None:
    """Merge ``patch`` into ``target``: objects merge recursively, anything else (null included) replaces."""
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            merge_patch(target[key], value)
        else:
            target[key] = copy.deepcopy(value)
