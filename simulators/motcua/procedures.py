"""The served procedure catalogue: the fixed catalogue plus edits, searchable like the dossiers.

Small (a few hundred records), so it is held as JSON dicts sorted by ``(updatedDate, id)``.  An edit
takes its ``updatedDate`` from the same change clock as dossier changes, so it sorts last and an
incremental catalogue pull sees it.
"""

from __future__ import annotations

import bisect
import copy
import threading
from collections.abc import Callable
from typing import Any

from simulators.motcua.catalogue import CATALOGUE
from simulators.motcua.store import merge_patch
from simulators.motcua.timeline import format_ms


class ProcedureStore:
    def __init__(self, tick: Callable[[], int]) -> None:
        self._tick = tick
        self._lock = threading.Lock()
        self._keys: list[tuple[int, str]] = [(p.updated_ms, p.id) for p in CATALOGUE]
        self._records: dict[str, dict[str, Any]] = {p.id: p.to_json() for p in CATALOGUE}
        self.changed: list[str] = []

    def __len__(self) -> int:
        return len(self._keys)

    def get(self, procedure_id: str) -> dict[str, Any] | None:
        with self._lock:
            return self._records.get(procedure_id)

    def search(self, from_ms: int | None, to_ms: int | None, offset: int, size: int) -> tuple[int, list[dict]]:
        with self._lock:
            keys = self._keys
            lo = 0 if from_ms is None else bisect.bisect_left(keys, (from_ms, ""))
            hi = len(keys) if to_ms is None else bisect.bisect_right(keys, (to_ms, "\uffff"))
            hi = max(lo, hi)
            page = [self._records[pid] for _, pid in keys[lo + offset : min(hi, lo + offset + size)]]
            return hi - lo, page

    def update(self, procedure_id: str, changes: dict[str, Any]) -> dict[str, Any] | None:
        with self._lock:
            current = self._records.get(procedure_id)
            if current is None:
                return None
            record = copy.deepcopy(current)
            merge_patch(record, changes)
            ms = self._tick()
            record["updatedDate"] = format_ms(ms)
            old_ms = next(ms_ for ms_, pid in self._keys if pid == procedure_id)
            del self._keys[bisect.bisect_left(self._keys, (old_ms, procedure_id))]
            bisect.insort(self._keys, (ms, procedure_id))
            self._records[procedure_id] = record
            self.changed.append(procedure_id)
            return record
