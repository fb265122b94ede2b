"""Planning a run's deliveries as batches of record keys, one mapped ``deliver`` task per batch.

A batch is a half-open range of record keys (:class:`lienthong.store.outbox.KeyRange`) over the
route's live outbox rows.  Ranges, not lists of row ids, because a dossier and its follow-up progress
rows share the record key (the follow-ups wait for the dossier's row to be acknowledged): a range keeps
them in one task, so no task waits for a parent that another task is sending.  The ranges are planned
in the database's key order and leave their outer ends open, so together they cover every key, also
one queued after planning: nothing falls between two batches.

Airflow fails a task that pushes more than ``[core] max_map_length`` (default 1024) items to map over,
so the plan widens its batches until there are at most that many.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import func, select

from lienthong import states
from lienthong.store.db import Store
from lienthong.store.models import OutboxRow
from lienthong.store.outbox import KeyRange

DEFAULT_MAX_MAP_LENGTH = 1024


@dataclass(frozen=True)
class Batch:
    """One deliver task's share: keys in ``[low, high)``, with the live rows and keys seen at planning."""

    index: int
    low: str | None
    high: str | None
    rows: int
    keys: int

    @property
    def key_range(self) -> KeyRange:
        return KeyRange(self.low, self.high)

    @property
    def label(self) -> str:
        """For the Airflow UI (the mapped task's name): which keys, how many rows."""
        return f"{self.index}: {self.low or '…'} → {self.high or '…'} ({self.rows} rows)"

    def to_dict(self) -> dict[str, Any]:
        """What goes through XCom: ids and counts only, never a payload."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Batch:
        return cls(
            int(data["index"]), data.get("low"), data.get("high"), int(data["rows"]), int(data["keys"])
        )


def plan(key_counts: Sequence[tuple[str, int]], batch_size: int, max_batches: int) -> list[Batch]:
    """Cut keys (in the database's order, with their live row counts) into consecutive batches of about
    ``batch_size`` rows, never splitting a key, and never more than ``max_batches`` batches.

    A batch closes once it holds at least ``size`` rows, with ``size = max(batch_size, ⌈rows /
    max_batches⌉)``: k closed batches hold at least k·size rows, so k ≤ max_batches, and a last partial
    batch can only exist when k < max_batches.  Nothing to deliver is still one batch (the whole key
    space), so the deliver step always runs and picks up rows queued after planning."""
    if batch_size < 1 or max_batches < 1:
        raise ValueError("batch_size and max_batches must be at least 1")
    total = sum(count for _, count in key_counts)
    size = max(batch_size, math.ceil(total / max_batches))
    starts: list[tuple[str, int, int]] = []  # (first key, rows, keys) of each batch
    rows = keys = 0
    first: str | None = None
    for key, count in key_counts:
        if first is None:
            first = key
        rows += count
        keys += 1
        if rows >= size:
            starts.append((first, rows, keys))
            first, rows, keys = None, 0, 0
    if first is not None:
        starts.append((first, rows, keys))
    if not starts:
        return [Batch(0, None, None, 0, 0)]
    batches = []
    for index, (_, rows, keys) in enumerate(starts):
        low = starts[index][0] if index > 0 else None
        high = starts[index + 1][0] if index + 1 < len(starts) else None
        batches.append(Batch(index, low, high, rows, keys))
    return batches


def live_key_counts(store: Store, route: str) -> list[tuple[str, int]]:
    """The route's record keys with live rows (pending, in flight, waiting for a retry), in the
    database's order of keys: the order the deliver tasks' range conditions compare in."""
    query = (
        select(OutboxRow.record_key, func.count())
        .where(OutboxRow.route == route, OutboxRow.state.in_(states.LIVE_STATES))
        .group_by(OutboxRow.record_key)
        .order_by(OutboxRow.record_key)
    )
    with store.session() as session:
        return [(key, int(count)) for key, count in session.execute(query).all()]


def max_map_length() -> int:
    """Airflow's cap on the items a task may push to map over (``[core] max_map_length``)."""
    try:
        from airflow.configuration import conf  # type: ignore[import-not-found]

        return conf.getint("core", "max_map_length", fallback=DEFAULT_MAX_MAP_LENGTH)
    except Exception:  # noqa: BLE001 - outside Airflow (tests, the CLI): the environment or the default
        return int(os.environ.get("AIRFLOW__CORE__MAX_MAP_LENGTH", DEFAULT_MAX_MAP_LENGTH))


def plan_route(store: Store, route: str, batch_size: int, max_batches: int | None = None) -> list[Batch]:
    return plan(live_key_counts(store, route), batch_size, max_batches or max_map_length())


def left_in(store: Store, route: str, key_range: KeyRange) -> dict[str, Any]:
    """What a deliver task leaves to the next run in its range: live rows by state, and when the
    earliest waiting retry falls due (ISO, UTC) — reported, never a reason to fail the task."""
    query = select(OutboxRow.state, func.count(), func.min(OutboxRow.next_attempt_at)).where(
        OutboxRow.route == route, OutboxRow.state.in_(states.LIVE_STATES)
    )
    if key_range.low is not None:
        query = query.where(OutboxRow.record_key >= key_range.low)
    if key_range.high is not None:
        query = query.where(OutboxRow.record_key < key_range.high)
    with store.session() as session:
        found = session.execute(query.group_by(OutboxRow.state)).all()
    left: dict[str, Any] = {state: 0 for state in states.LIVE_STATES}
    due = None
    for state, count, next_at in found:
        left[state] = int(count)
        if state == states.RETRY_SCHEDULED and next_at is not None:
            due = next_at
    left["next_retry_at"] = due.isoformat() + "Z" if due else None
    return left
