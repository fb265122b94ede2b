"""The national portal's service indicators, recomputed from the dossier payloads it acknowledged.

Definitions (Decision 766/QĐ-TTg as the portal applies them; field names are the portal's HoSo fields,
see ``mappings/dossier_sync.yaml`` and ``docs/simulators/dvcqg.md``):

- **online share** = dossiers received online (``KenhThucHien`` = 2) / all dossiers the portal holds;
- **on-time rate** = dossiers finished on or before their due date (``NgayKetThucXuLy`` ≤
  ``NgayHenTra``) / dossiers finished with a due date.  A finished dossier without ``NgayHenTra``
  cannot be judged: it is counted apart (``finished_undated``), in neither part of the rate.

Dates are the portal's ``yyyyMMddHHmmss`` strings in Vietnam time: fixed width, so comparing the
strings compares the instants.  Pure functions over dicts: no store, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from lienthong.report.model import AgencyIndicators

ONLINE_CHANNEL = "2"
CHANNEL = "KenhThucHien"
FINISHED = "NgayKetThucXuLy"
DUE = "NgayHenTra"


def _date(payload: dict[str, Any], name: str) -> str | None:
    value = payload.get(name)
    text = str(value).strip() if value is not None else ""
    return text if len(text) == 14 and text.isdigit() else None


def agency_indicators(agency: str, payloads: Iterable[dict[str, Any]]) -> AgencyIndicators:
    dossiers = online = finished = on_time = undated = 0
    for payload in payloads:
        dossiers += 1
        if str(payload.get(CHANNEL, "")).strip() == ONLINE_CHANNEL:
            online += 1
        done = _date(payload, FINISHED)
        if done is None:
            continue
        due = _date(payload, DUE)
        if due is None:
            undated += 1
            continue
        finished += 1
        if done <= due:
            on_time += 1
    return AgencyIndicators(agency, dossiers, online, finished, on_time, undated)


def total_indicators(rows: Iterable[AgencyIndicators]) -> AgencyIndicators:
    rows = list(rows)
    return AgencyIndicators(
        "",
        sum(r.dossiers for r in rows),
        sum(r.online for r in rows),
        sum(r.finished for r in rows),
        sum(r.on_time for r in rows),
        sum(r.finished_undated for r in rows),
    )
