"""Run rows as records of who works (lienthong.store.runs), on SQLite and PostgreSQL: abandoned runs are
found by owner and lease, DAG runs are never judged by a pid, an interrupted process's rows go back."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta

from sqlalchemy import select

from lienthong import outcomes, states
from lienthong.clock import utcnow
from lienthong.store.models import OutboxRow, Run
from lienthong.store.outbox import LEFT_IN_FLIGHT
from lienthong.store.runs import close_abandoned, close_earlier_dag_runs, release_held
from lienthong.workers import HOST, process_owner_prefix


def a_dead_process_prefix() -> str:
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    return f"{HOST}:{gone.stdout.strip()}:"


def add_run(
    store, owner: str | None, *, lease_in: float = 60.0, route: str = "r", status: str = "running"
) -> int:
    with store.session() as session:
        run = Run(
            route=route,
            kind="airflow" if owner and owner.startswith("airflow:") else "run",
            actor="t",
            started_at=utcnow(),
            status=status,
            counts="{}",
            owner=owner,
            lease_expires_at=utcnow() + timedelta(seconds=lease_in),
        )
        session.add(run)
        session.flush()
        return run.id


def statuses(store) -> dict[int, str]:
    with store.session() as session:
        return dict(session.execute(select(Run.id, Run.status)).all())


def test_open_runs_of_dead_processes_and_expired_leases_are_closed_as_abandoned(store):
    dead = add_run(store, a_dead_process_prefix())
    alive = add_run(store, process_owner_prefix())
    elsewhere_expired = add_run(store, "other-host:123:", lease_in=-5)
    elsewhere_live = add_run(store, "other-host:124:", lease_in=60)
    dag_run = add_run(store, "airflow:manual__2026-12-03", lease_in=-600)
    finished = add_run(store, a_dead_process_prefix(), status=outcomes.SUCCEEDED)

    assert sorted(close_abandoned(store)) == sorted([dead, elsewhere_expired])
    assert statuses(store) == {
        dead: outcomes.ABANDONED,
        alive: outcomes.RUNNING,
        elsewhere_expired: outcomes.ABANDONED,
        elsewhere_live: outcomes.RUNNING,
        dag_run: outcomes.RUNNING,  # never judged by a pid or a lease
        finished: outcomes.SUCCEEDED,
    }
    with store.session() as session:
        closed = session.get(Run, dead)
        assert closed.finished_at is not None and "killed" in closed.error
    assert close_abandoned(store) == []  # idempotent


def test_a_new_dag_run_closes_the_earlier_one_its_reconcile_never_closed(store):
    earlier = add_run(store, "airflow:scheduled__1", route="dossier_sync", status=outcomes.DELIVERING)
    other_route = add_run(store, "airflow:scheduled__1", route="catalogue_sync")
    current = add_run(store, "airflow:scheduled__2", route="dossier_sync")
    assert close_earlier_dag_runs(store, "dossier_sync", current) == [earlier]
    assert statuses(store)[earlier] == outcomes.ABANDONED
    assert statuses(store)[other_route] == statuses(store)[current] == outcomes.RUNNING


def test_rows_in_flight_under_this_process_go_back_pending_marked_outcome_unknown(store):
    now = utcnow()
    with store.session() as session:
        for i, owner in enumerate([process_owner_prefix() + "7", "other-host:1:1"]):
            session.add(
                OutboxRow(
                    route="r",
                    target="t",
                    operation="op",
                    record_key=f"k{i}",
                    seq=1,
                    payload="{}",
                    payload_hash="h",
                    mapping_version="v",
                    idempotency_key=f"idem-{i}-{os.getpid()}",
                    state=states.IN_FLIGHT,
                    lease_owner=owner,
                    lease_expires_at=now + timedelta(seconds=60),
                    created_at=now,
                    updated_at=now,
                )
            )
    assert release_held(store, process_owner_prefix()) == 1
    with store.session() as session:
        rows = {r.record_key: r for r in session.execute(select(OutboxRow)).scalars()}
    assert rows["k0"].state == states.PENDING and rows["k0"].last_error == LEFT_IN_FLIGHT
    assert rows["k0"].lease_owner is None
    assert rows["k1"].state == states.IN_FLIGHT  # another process's row is not ours to hand back
