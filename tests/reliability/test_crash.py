"""A worker process killed with SIGKILL at random points, 20 times, restarted each time: nothing lost,
nothing written twice in effect, nothing left in flight.

Each cycle starts ``lienthong run dossier_sync`` as a real process and kills it after a seeded random
delay (most counted from the moment its run starts, some from the process start), wherever it is:
importing, opening the store, pulling pages (holding the route's extract lease), mapping, or in the
middle of deliveries (rows ``in_flight`` under its lease, requests on the
wire that the portal may already have applied).  The delivery lease is 2 s, so even a row the restart
did not recover at once would come back quickly; the engine is expected to do better and recover the
rows of a dead process of this host at restart, and to take over the extract lease of a dead holder.

Between two cycles a few dossiers change at the source (a new summary, so a new payload version):
versions pile up behind rows a killed worker left in flight, supersede pending ones, and must still
reach the portal in order, the newest last.  The one-stop system answers slowly enough (per page) for
the first kills to land in the pull.  After the 20 kills one more run goes to the end; then the same
outcome as under injected faults: every version delivered once in effect, in order, nothing lost.
"""

from __future__ import annotations

import random
import signal
import subprocess
import time

import pytest
from sqlalchemy import func, select

from lienthong import states
from lienthong.store import Store
from lienthong.store.models import Lease, OutboxRow, Run, StagedRecord
from simulators.cluster import SimulatorCluster
from simulators.faults import FaultConfig
from tests.reliability.checks import (
    expected_from_outbox,
    live_rows,
    outbox_figures,
    progress_after_parent,
    settled,
    verify_portal,
)
from tests.reliability.conftest import LIENTHONG, edited_mappings, json_summary, worker_env

DOSSIERS = 3_000
KILLS = 20
SEED = 20_250_420
LATENCY_MS = 30  # per portal request: a delivery takes long enough for kills to land in it
SOURCE_LATENCY_MS = 60  # per one-stop request: 30 pages of 100 take ~2 s to pull
CHANGES_PER_CYCLE = 25  # dossiers given a new version at the source before each restart
START_UP_SHARE = 0.1  # share of kills timed from the process start (imports, store opening)
MAX_KILL_DELAY = 2.0  # other kills: up to this long after the run has started (its row in `runs`)


def store_snapshot(store: Store, pid: int) -> dict[str, int]:
    """What the killed process left: its rows in flight, its extract lease, how far the route got."""
    with store.session() as session:
        in_flight = session.execute(
            select(func.count()).where(
                OutboxRow.state == states.IN_FLIGHT, OutboxRow.lease_owner.like(f"%:{pid}:%")
            )
        ).scalar_one()
        lease = session.execute(select(Lease.holder).where(Lease.name == "extract:dossier_sync")).scalar()
        staged = session.execute(select(func.count()).select_from(StagedRecord)).scalar_one()
        rows = session.execute(select(func.count()).select_from(OutboxRow)).scalar_one()
        acknowledged = session.execute(
            select(func.count()).where(OutboxRow.state == states.ACKNOWLEDGED)
        ).scalar_one()
    return {
        "in_flight": int(in_flight),
        "extract_lease_held": int(bool(lease and f":{pid}:" in lease)),
        "staged": int(staged),
        "outbox_rows": int(rows),
        "acknowledged": int(acknowledged),
    }


def latest_run_id(store: Store) -> int:
    with store.session() as session:
        return int(session.execute(select(func.coalesce(func.max(Run.id), 0))).scalar_one())


def wait_for_run_start(store: Store, after_run_id: int, process: subprocess.Popen, limit: float = 20) -> None:
    """Until the worker has opened the store and started its run (or ended, or ``limit`` passed)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline and process.poll() is None:
        if latest_run_id(store) > after_run_id:
            return
        time.sleep(0.02)


def phase_of(before: dict[str, int], after: dict[str, int]) -> str:
    if after["in_flight"]:
        return "deliver (rows in flight)"
    if after["extract_lease_held"]:
        return "extract (lease held)"
    if after["acknowledged"] > before["acknowledged"]:
        return "deliver (between batches)"
    if after["outbox_rows"] > before["outbox_rows"]:
        return "map"
    if after["staged"] > before["staged"]:
        return "extract"
    return "start-up (nothing written)"


@pytest.mark.slow
def test_sigkill_twenty_times_then_resume_loses_and_duplicates_nothing(tmp_path, figures):
    rng = random.Random(SEED)
    store_url = f"sqlite:///{tmp_path / 'store.db'}"
    mappings = edited_mappings(tmp_path / "mappings", read_timeout=5, attempts=12)
    settings = {"seed": SEED % 1000, "total": DOSSIERS, "mess_rate": 0.0}
    with SimulatorCluster(motcua_settings=settings) as cluster:
        cluster.dvcqg.app.faults.configure(FaultConfig(latency_ms=LATENCY_MS))
        cluster.motcua.app.faults.configure(FaultConfig(latency_ms=SOURCE_LATENCY_MS))
        source = cluster.motcua.app
        env = worker_env(
            store_url, mappings, cluster.connection_env(), tmp_path / "home", LIENTHONG_LEASE_SECONDS="2"
        )
        command = [str(LIENTHONG), "run", "dossier_sync", "--no-progress", "--json", "--concurrency", "2"]
        store = Store(store_url)  # migrated here, so that every snapshot can read it
        kills: list[dict] = []
        finished_early: list[int] = []
        started = time.monotonic()
        try:
            cycle = 0
            while len(kills) < KILLS and len(kills) + len(finished_early) < 3 * KILLS:
                cycle += 1
                if cycle > 1:
                    for index in rng.sample(range(DOSSIERS), CHANGES_PER_CYCLE):
                        source.update_dossier(source.dossier_id(index), summary=f"Bổ sung hồ sơ, lần {cycle}")
                during_start_up = rng.random() < START_UP_SHARE
                delay = rng.uniform(0.05, 0.6) if during_start_up else rng.uniform(0.05, MAX_KILL_DELAY)
                before = store_snapshot(store, -1)
                last_run = latest_run_id(store)
                err = tmp_path / f"cycle-{cycle}.err"
                with open(err, "w") as stderr:
                    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=stderr)
                if not during_start_up:
                    wait_for_run_start(store, last_run, process)
                try:
                    code = process.wait(timeout=delay)
                except subprocess.TimeoutExpired:
                    process.send_signal(signal.SIGKILL)
                    process.wait(timeout=30)
                    after = store_snapshot(store, process.pid)
                    kills.append({"after_s": round(delay, 2), "phase": phase_of(before, after), **after})
                else:
                    assert code == 0, err.read_text()[-3000:]
                    finished_early.append(code)
            left_in_flight = sum(k["in_flight"] for k in kills)
            # The last run, to the end: it must recover whatever the last kill left.
            final = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
            seconds = time.monotonic() - started
            assert final.returncode == 0, final.stderr[-3000:]
            summary = json_summary(final.stdout)

            portal = cluster.dvcqg.app.received()
            expected = expected_from_outbox(store)
            verdict = verify_portal(portal, expected)
            outbox = outbox_figures(store)
            phases: dict[str, int] = {}
            for kill in kills:
                phases[kill["phase"]] = phases.get(kill["phase"], 0) + 1
            figures(
                dossiers=DOSSIERS,
                dossier_versions_delivered=expected.versions(),
                superseded_versions_written_anyway=verdict.superseded_written,
                kills=len(kills),
                runs_that_finished_before_their_kill=len(finished_early),
                kills_by_phase=phases,
                rows_left_in_flight_by_kills=left_in_flight,
                extract_leases_left_by_kills=sum(k["extract_lease_held"] for k in kills),
                final_run=summary.get("deliveries"),
                final_run_backlog=summary.get("route_backlog"),
                seconds=round(seconds, 1),
                outbox=outbox,
                dossier_writes=verdict.dossier_writes,
                dossier_repeats=verdict.dossier_repeats,
                progress_writes=verdict.progress_writes,
                progress_repeats=verdict.progress_repeats,
                duplicates=verdict.duplicates,
                lost=verdict.lost,
            )

            assert len(kills) == KILLS
            assert left_in_flight > 0, "no kill landed mid-delivery: the test proves less than it claims"
            assert summary["checks"] == []
            assert settled(outbox), outbox
            assert live_rows(store) == 0
            assert len(expected.dossiers) == DOSSIERS
            assert len(expected.progress) == expected.progress_items
            assert verdict.problems() == {}
            assert (verdict.duplicates, verdict.lost) == (0, 0)
            assert portal["totals"]["dossiers"] == DOSSIERS
            assert portal["totals"]["dossier_writes"] == expected.versions() + verdict.superseded_written
            assert progress_after_parent(store) == []
            with store.session() as session:
                assert session.execute(select(func.count()).select_from(Lease)).scalar_one() == 0
        finally:
            store.dispose()
