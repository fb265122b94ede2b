"""The ``runs`` rows as records of who is working: owner, lease, abandoned runs, and a run's own figures.

A run records its owner: ``host:pid:`` for a CLI process, ``airflow:<dag run id>`` for a DAG run
(whose tasks run in processes that exit normally between tasks, so a pid says nothing about it).
The next process that opens the store closes, as ``abandoned``, every open CLI run whose process no
longer exists on this host, or whose lease (renewed every few seconds while it works) expired on
another host.  DAG runs are never judged by a pid: the next DAG run of the same route closes an
earlier one that its reconcile task did not close (``max_active_runs=1``: the earlier one is over).
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import aliased

from lienthong import outcomes, states
from lienthong.clock import utcnow
from lienthong.reconcile import Reconciliation
from lienthong.store.db import Store
from lienthong.store.models import OutboxRow, Run, StagedRecord
from lienthong.store.outbox import LEFT_IN_FLIGHT, KeyRange
from lienthong.workers import HOST, holder_is_dead

log = logging.getLogger(__name__)

#: Lease of a CLI run: renewed every third of it by :class:`RunLease`.
RUN_LEASE_SECONDS = 120.0
AIRFLOW_OWNER = "airflow:"


def abandoned_message(owner: str | None) -> str:
    return f"its process ({owner or 'unknown'}) ended without closing the run (killed, or its machine lost)"


def close_abandoned(store: Store) -> list[int]:
    """Close open CLI runs whose owner died (this host: the pid is gone; another host: the lease
    expired) as ``abandoned``; returns their ids.  Airflow runs are left to :func:`close_earlier_dag_runs`."""
    now = utcnow()
    with store.session() as session:
        candidates = session.execute(
            select(Run.id, Run.owner, Run.lease_expires_at).where(Run.status.in_(outcomes.OPEN_STATUSES))
        ).all()
        dead = []
        for run_id, owner, expires in candidates:
            if not owner or owner.startswith(AIRFLOW_OWNER):
                continue  # a DAG run, or a run of a version that did not record its owner
            mine = owner.split(":", 1)[0] == HOST
            if (mine and holder_is_dead(owner)) or (not mine and expires is not None and expires < now):
                dead.append((run_id, owner))
        for run_id, owner in dead:
            session.execute(
                update(Run)
                .where(Run.id == run_id, Run.status.in_(outcomes.OPEN_STATUSES))
                .values(status=outcomes.ABANDONED, finished_at=now, error=abandoned_message(owner))
            )
    for run_id, owner in dead:
        log.warning("run %s closed as abandoned: %s", run_id, abandoned_message(owner))
    return [run_id for run_id, _ in dead]


def close_earlier_dag_runs(store: Store, route: str, keep_run_id: int) -> list[int]:
    """Open DAG runs of ``route`` other than ``keep_run_id``: abandoned (their DAG run is over)."""
    now = utcnow()
    with store.session() as session:
        ids = list(
            session.execute(
                select(Run.id).where(
                    Run.route == route,
                    Run.id != keep_run_id,
                    Run.status.in_(outcomes.OPEN_STATUSES),
                    Run.owner.startswith(AIRFLOW_OWNER),
                )
            ).scalars()
        )
        if ids:
            session.execute(
                update(Run)
                .where(Run.id.in_(ids))
                .values(
                    status=outcomes.ABANDONED,
                    finished_at=now,
                    error="its DAG run ended before its reconcile task closed it",
                )
            )
    return ids


def release_held(store: Store, owner_prefix: str) -> int:
    """Rows still in flight under this process (an interrupt): back to ``pending`` now, marked
    outcome-unknown (the call may have reached the target: the next attempt asks first)."""
    with store.session() as session:
        result = session.execute(
            update(OutboxRow)
            .where(
                OutboxRow.state == states.IN_FLIGHT,
                OutboxRow.lease_owner.startswith(owner_prefix, autoescape=True),
            )
            .values(
                state=states.PENDING,
                lease_owner=None,
                lease_expires_at=None,
                updated_at=utcnow(),
                last_error=LEFT_IN_FLIGHT,
            )
        )
        return result.rowcount or 0


class RunLease:
    """Keeps a run's lease fresh from a daemon thread while the run works (a context manager)."""

    def __init__(self, store: Store, run_id: int, seconds: float = RUN_LEASE_SECONDS) -> None:
        self.store, self.run_id, self.seconds = store, run_id, seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"run-lease-{run_id}", daemon=True)

    def renew(self) -> None:
        with self.store.session() as session:
            session.execute(
                update(Run)
                .where(Run.id == self.run_id)
                .values(lease_expires_at=utcnow() + timedelta(seconds=self.seconds))
            )

    def _loop(self) -> None:
        while not self._stop.wait(self.seconds / 3):
            try:
                self.renew()
            except Exception as exc:  # noqa: BLE001 - a missed renewal is retried; the run goes on
                log.warning("run %s: lease not renewed: %s", self.run_id, type(exc).__name__)

    def __enter__(self) -> RunLease:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def live_by_target(store: Store, route: str, key_range: KeyRange | None = None) -> dict[str, int]:
    """Live rows of ``route`` per target that a worker could still send (pending, in flight, retry
    scheduled), leaving out follow-ups blocked behind a dead or review parent (those wait for a person)."""
    parent = aliased(OutboxRow, name="parent")
    query = (
        select(OutboxRow.target, OutboxRow.state, parent.state)
        .outerjoin(parent, parent.id == OutboxRow.parent_id)
        .where(OutboxRow.route == route, OutboxRow.state.in_(states.LIVE_STATES))
    )
    if key_range is not None and key_range.low is not None:
        query = query.where(OutboxRow.record_key >= key_range.low)
    if key_range is not None and key_range.high is not None:
        query = query.where(OutboxRow.record_key < key_range.high)
    counts: Counter[str] = Counter()
    with store.session() as session:
        for target, state, parent_state in session.execute(query):
            if state == states.PENDING and parent_state in states.BLOCKING_PARENT_STATES:
                continue
            counts[target] += 1
    return dict(counts)


def run_figures(store: Store, route: str, run_id: int, *, open_run: bool = False) -> Reconciliation:
    """The reconciliation of the record versions **this run** pulled (``staged_records.run_id``), not
    of whatever any process pulled in its time window.  Recomputed later, it shows what became of
    them since (a later run that settles them updates the earlier run's figures)."""
    rec = Reconciliation(route=route, start=None, end=None)
    staged_states: dict[int, str] = {}
    with store.session() as session:
        for staged_id, state in session.execute(
            select(StagedRecord.id, StagedRecord.state).where(
                StagedRecord.route == route, StagedRecord.run_id == run_id
            )
        ):
            staged_states[staged_id] = state
        deciding: dict[int, tuple[int, bool, str]] = {}  # staged id -> (row id, is main, state)
        rows = session.execute(
            select(OutboxRow.staged_id, OutboxRow.id, OutboxRow.parent_id, OutboxRow.state)
            .join(StagedRecord, StagedRecord.id == OutboxRow.staged_id)
            .where(OutboxRow.route == route, StagedRecord.run_id == run_id)
        ).all()
    for staged_id, row_id, parent_id, state in rows:
        main = parent_id is None
        best = deciding.get(staged_id)
        if best is None or (main, row_id) > (best[1], best[0]):
            deciding[staged_id] = (row_id, main, state)
    missing_keys: list[int] = []
    for staged_id, state in staged_states.items():
        rec.pulled += 1
        if state == states.QUARANTINED:
            rec.quarantined += 1
        elif state == states.FILTERED:
            rec.filtered += 1
        elif state == states.UNCHANGED:
            rec.unchanged += 1
        elif state == states.STAGED and open_run:
            rec.awaiting_mapping += 1
        elif state == states.MAPPED and staged_id in deciding:
            row_state = deciding[staged_id][2]
            if row_state == states.ACKNOWLEDGED:
                rec.acknowledged += 1
            elif row_state == states.DEAD:
                rec.dead += 1
            elif row_state in states.LIVE_STATES:
                rec.pending += 1
            elif row_state == states.REVIEW:
                rec.review += 1
            elif row_state == states.SUPERSEDED:
                rec.superseded += 1
            else:
                rec.missing += 1
                missing_keys.append(staged_id)
        else:
            rec.missing += 1
            missing_keys.append(staged_id)
    if missing_keys:
        with store.session() as session:
            rec.missing_keys = list(
                session.execute(
                    select(StagedRecord.record_key)
                    .where(StagedRecord.id.in_(missing_keys[:20]))
                    .order_by(StagedRecord.id)
                ).scalars()
            )
    return rec


__all__ = [
    "RunLease",
    "close_abandoned",
    "close_earlier_dag_runs",
    "live_by_target",
    "release_held",
    "run_figures",
]
