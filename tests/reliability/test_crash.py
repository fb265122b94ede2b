"""A worker process killed with SIGKILL in every phase of a run, 20 times, restarted each time:
nothing lost, nothing written twice, the portal holding the source's latest version of every dossier.

Each cycle starts ``lienthong run dossier_sync`` as a real process and kills it while it reports (via
``LIENTHONG_PHASE_FILE``, :mod:`lienthong.phases`) that it is in the phase the schedule asks for:
start-up (store opened, run being prepared), pull (holding the route's extract lease), map, or
deliver (rows ``in_flight`` under its lease, requests on the wire the portal may already have
applied).  Kills are placed by phase, not by the clock, so the schedule means the same on a loaded
machine (a clock-placed one failed once in 725 runs under load); see :mod:`tests.reliability.killer`.
The delivery lease is 2 s, so even a row the restart did not recover at once would come back quickly.

Between two cycles a few dossiers change at the source (a new summary, so a new payload version):
versions pile up behind rows a killed worker left in flight, supersede pending ones, and must still
reach the portal in order, the newest last.  After the kills one more run goes to the end; then:

* the source is the yardstick: every dossier the one-stop system serves is at the portal with the
  content of its latest version there, and the edited ones received their versions in edit order;
* the target bounds the repeats: exact repeats and ``-3`` answers no more than the answers lost
  (requests the portal applied whose client had died, and items in flight at the kills);
* the outbox agrees: every version delivered once in effect, in order, nothing left in flight.
"""

from __future__ import annotations

import random
import subprocess
import time

import pytest
from sqlalchemy import func, select

from lienthong import phases, states
from lienthong.store import Store
from lienthong.store.models import Lease, OutboxRow
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
from tests.reliability.killer import kill_in_phase
from tests.reliability.yardstick import (
    items_of,
    read_source,
    repeat_figures,
    repeat_problems,
    source_problems,
)

DOSSIERS = 3_000
KILLS = 20
SEED = 20_250_420
LATENCY_MS = 30  # per portal request: a delivery takes long enough for kills to land in it
SOURCE_LATENCY_MS = 60  # per one-stop request: 30 pages of 100 take ~2 s to pull
CHANGES_PER_CYCLE = 25  # dossiers given a new version at the source before each restart
#: Kills each phase must get (the rest of the 20 go to delivery, where most of a run's time is).
MIN_PER_PHASE = {phases.START_UP: 3, phases.PULL: 3, phases.MAP: 3, phases.DELIVER: 6}
#: How long after entering the phase the kill may come (a random moment up to this).
MAX_DELAY = {phases.START_UP: 0.02, phases.PULL: 0.4, phases.MAP: 0.15, phases.DELIVER: 1.5}
#: The order in which phases are asked for: pulls and maps first, while the whole source is new.
ROTATION = (phases.PULL, phases.MAP, phases.START_UP, phases.DELIVER)
MAX_CYCLES = 3 * KILLS


def in_flight_under(store: Store, pid: int) -> dict[str, int]:
    """Items per operation a killed process left in flight: answers the kill may have lost."""
    with store.session() as session:
        rows = session.execute(
            select(OutboxRow.operation, OutboxRow.payload).where(
                OutboxRow.state == states.IN_FLIGHT, OutboxRow.lease_owner.like(f"%:{pid}:%")
            )
        ).all()
    items: dict[str, int] = {}
    for operation, payload in rows:
        items[operation] = items.get(operation, 0) + items_of([payload])
    return items


def next_wanted(kills: list, cycle: int) -> str:
    """The phases in rotation, skipping those that have their minimum; then deliveries."""
    got = {phase: sum(1 for k in kills if k.phase == phase) for phase in MIN_PER_PHASE}
    for step in range(len(ROTATION)):
        phase = ROTATION[(cycle + step) % len(ROTATION)]
        if got[phase] < MIN_PER_PHASE[phase]:
            return phase
    return phases.DELIVER


def short_phases(kills: list) -> dict[str, int]:
    got = {phase: sum(1 for k in kills if k.phase == phase) for phase in MIN_PER_PHASE}
    return {phase: got[phase] for phase in MIN_PER_PHASE if got[phase] < MIN_PER_PHASE[phase]}


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
        kills: list = []
        left_in_flight: dict[str, int] = {}
        edits: dict[str, list[str]] = {}  # dossier code → its summaries at the source, in order
        finished_early = 0
        started = time.monotonic()
        try:
            cycle = 0
            while (len(kills) < KILLS or short_phases(kills)) and cycle < MAX_CYCLES:
                if cycle > 0:
                    for index in rng.sample(range(DOSSIERS), CHANGES_PER_CYCLE):
                        dossier_id = source.dossier_id(index)
                        record = source.get_dossier(dossier_id)
                        history = edits.setdefault(record["code"].strip(), [record["summary"]])
                        history.append(f"Bổ sung hồ sơ, lần {cycle}")
                        source.update_dossier(dossier_id, summary=history[-1])
                wanted = next_wanted(kills, cycle)
                # A phase missed last time (it was shorter than the wait) is asked for without a wait.
                missed = bool(kills) and kills[-1].wanted == wanted and kills[-1].phase != wanted
                cycle += 1
                kill = kill_in_phase(
                    command,
                    env,
                    tmp_path / "phase",
                    wanted,
                    0.0 if missed else MAX_DELAY[wanted],
                    rng,
                    tmp_path / f"cycle-{cycle}.err",
                )
                if kill is None:
                    finished_early += 1
                    continue
                kills.append(kill)
                for operation, items in in_flight_under(store, kill.pid).items():
                    left_in_flight[operation] = left_in_flight.get(operation, 0) + items
            # The last run, to the end: it must recover whatever the last kill left.
            final = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
            seconds = time.monotonic() - started
            assert final.returncode == 0, final.stderr[-3000:]
            summary = json_summary(final.stdout)

            portal = cluster.dvcqg.app.received(history=True)
            cluster.motcua.app.faults.configure(FaultConfig())
            from_source = read_source(cluster.motcua.url)
            expected = expected_from_outbox(store)
            verdict = verify_portal(portal, expected)
            outbox = outbox_figures(store)
            repeats = repeat_figures(portal, extra_lost=left_in_flight)
            by_phase: dict[str, int] = {}
            for kill in kills:
                by_phase[kill.phase] = by_phase.get(kill.phase, 0) + 1
            figures(
                dossiers=DOSSIERS,
                dossiers_edited=len(edits),
                dossier_versions_delivered=expected.versions(),
                superseded_versions_written_anyway=verdict.superseded_written,
                kills=len(kills),
                cycles=cycle,
                runs_that_finished_before_their_kill=finished_early,
                kills_by_phase=by_phase,
                kills_missing_their_phase=[f"{k.wanted} -> {k.phase}" for k in kills if k.phase != k.wanted],
                items_left_in_flight_by_kills=left_in_flight,
                answers_lost_seen_by_the_portal=portal["totals"]["answers_lost"],
                final_run=summary.get("deliveries"),
                seconds=round(seconds, 1),
                outbox=outbox,
                **repeats,
                dossier_writes=verdict.dossier_writes,
                progress_writes=verdict.progress_writes,
                duplicates=verdict.duplicates,
                lost=verdict.lost,
            )

            assert len(kills) >= KILLS, f"{len(kills)} kills in {cycle} cycles"
            assert not short_phases(kills), f"kills by phase {by_phase}, fewer than {MIN_PER_PHASE}"
            assert sum(left_in_flight.values()) > 0, "no kill landed mid-delivery: the test proves less"
            assert summary["checks"] == []
            # The source is the yardstick: latest version of every dossier, received in order.
            assert len(from_source) == DOSSIERS
            assert source_problems(from_source, portal, edits) == {}
            # The target bounds the repeats: no more than the answers the kills lost.
            assert repeat_problems(repeats) == []
            # The outbox agrees with the portal.
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
