"""Four worker processes on one PostgreSQL store: no row sent twice, none out of order, all delivered,
and the work really shared.

The route is pulled and mapped once; then four delivery processes start together against a portal
that takes 50 ms per request (so that they overlap for seconds, not milliseconds).  The portal is
the witness: a dossier sent twice shows as a repeat or a ``-3`` ("already exists"); a progress record
sent before its dossier is refused ``-2``; with no faults injected nothing else can produce either.
The outbox is the second witness: one attempt per row, and every progress row acknowledged no earlier
than the dossier row it follows.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from lienthong import phases
from lienthong.pipeline.runner import Gateway
from lienthong.settings import Settings
from lienthong.store import Store
from lienthong.store.models import Run
from simulators.cluster import SimulatorCluster
from simulators.faults import FaultConfig
from tests.conftest import _reset_pg
from tests.reliability.checks import (
    expected_from_outbox,
    live_rows,
    outbox_figures,
    progress_after_parent,
    verify_portal,
)
from tests.reliability.conftest import (
    LIENTHONG,
    cli_has_deliver,
    deliver_command,
    edited_mappings,
    json_summary,
    worker_env,
)
from tests.reliability.killer import ORDER

pytestmark = pytest.mark.postgres

DOSSIERS = 2_000
WORKERS = 4
LATENCY_MS = 50


@pytest.fixture()
def pg_url(pg_database):
    Store(pg_database).dispose()  # migrate, then empty every table
    _reset_pg(pg_database)
    return pg_database


def run_together(
    commands: list[list[str]],
    env: dict[str, str],
    logs: Path,
    timeout: float = 300,
    first_until: str | None = None,
) -> list[dict]:
    """Start the commands at once and wait for all (killing every one past ``timeout``); each must
    succeed; returns their JSON summaries.  Output goes to files: no pipe can fill up and block.

    ``first_until``: start the first command alone and the others once it reports that phase
    (:mod:`lienthong.phases`) or a later one, so that its role is known."""
    logs.mkdir(parents=True, exist_ok=True)
    processes = []
    deadline = time.monotonic() + timeout
    for i, command in enumerate(commands):
        own_env = dict(env)
        if i == 0 and first_until:
            own_env[phases.ENV_PHASE_FILE] = str(logs / "first.phase")
        with open(logs / f"{i}.out", "w") as out, open(logs / f"{i}.err", "w") as err:
            processes.append(subprocess.Popen(command, env=own_env, stdout=out, stderr=err))
        if i == 0 and first_until:
            wanted = ORDER.index(first_until)
            while processes[0].poll() is None and time.monotonic() < deadline:
                now = phases.read(logs / "first.phase")
                if now is not None and ORDER.index(now) >= wanted:
                    break
                time.sleep(0.005)
    late = False
    try:
        for process in processes:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        late = True
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=30)
    assert not late, f"the workers did not finish within {timeout:.0f} s (killed)"
    failed = [
        f"worker {i}: exit {p.returncode}: {_last_line((logs / f'{i}.err').read_text())}"
        for i, p in enumerate(processes)
        if p.returncode != 0
    ]
    assert not failed, "\n".join(failed)
    return [json_summary((logs / f"{i}.out").read_text()) for i in range(len(processes))]


def _last_line(text: str) -> str:
    """The error a process ended with (the last line of its traceback), or its last output."""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "(no output)"


def check_exactly_once_in_order(store: Store, portal: dict, figures_out: dict) -> None:
    expected = expected_from_outbox(store)
    verdict = verify_portal(portal, expected)
    outbox = outbox_figures(store)
    figures_out.update(
        outbox=outbox,
        portal_rejected=portal["rejected"],
        dossier_repeats=verdict.dossier_repeats,
        progress_repeats=verdict.progress_repeats,
        duplicates=verdict.duplicates,
        lost=verdict.lost,
    )
    assert outbox["by_state"] == {"acknowledged": outbox["rows"]}, outbox
    assert live_rows(store) == 0
    assert outbox["attempts"] == outbox["rows"], "a row was attempted more than once"
    assert len(expected.dossiers) == DOSSIERS
    assert verdict.problems() == {}
    assert (verdict.duplicates, verdict.lost) == (0, 0)
    assert verdict.dossier_repeats == 0 and verdict.progress_repeats == 0  # nothing sent twice
    assert portal["rejected"] == {}  # no "-3" (a create sent twice), no "-2" (progress before its dossier)
    assert portal["totals"]["dossier_writes"] == DOSSIERS
    assert portal["totals"]["progress_writes"] == expected.progress_items
    assert progress_after_parent(store) == []


def test_four_delivery_processes_share_the_work_without_sending_anything_twice(
    pg_url, tmp_path, monkeypatch, figures
):
    mappings = edited_mappings(tmp_path / "mappings", read_timeout=30, attempts=8)
    with SimulatorCluster(motcua_settings={"seed": 44, "total": DOSSIERS, "mess_rate": 0.0}) as cluster:
        env = worker_env(pg_url, mappings, cluster.connection_env(), tmp_path / "home")
        for name, value in cluster.connection_env().items():
            monkeypatch.setenv(name, value)
        store = Store(pg_url)
        try:
            staged = Gateway(
                Settings(data_dir=tmp_path, database_url=pg_url, mappings_dir=mappings), store
            ).run("dossier_sync", deliver=False)
            assert staged.transform.mapped == DOSSIERS and staged.deliver.calls == 0
            rows = outbox_figures(store)["rows"]
            cluster.dvcqg.app.faults.configure(FaultConfig(latency_ms=LATENCY_MS))

            started = time.monotonic()
            command = deliver_command("dossier_sync", "--concurrency", "2", "--wait-for-retries", "5")
            summaries = run_together([command] * WORKERS, env, tmp_path / "workers")
            seconds = time.monotonic() - started

            acknowledged = [s["deliveries"].get("acknowledged", 0) for s in summaries]
            calls = [s["deliveries"].get("calls", 0) for s in summaries]
            measured: dict = {
                "worker_command": " ".join(command[:3])
                + (" (no `lienthong deliver` in this CLI)" if not cli_has_deliver() else ""),
                "rows": rows,
                "acknowledged_per_process": acknowledged,
                "calls_per_process": calls,
                "seconds": round(seconds, 1),
                "rows_per_second": round(rows / seconds, 1),
            }
            try:
                assert all(n > 0 for n in acknowledged), f"a worker delivered nothing: {acknowledged}"
                assert sum(acknowledged) == rows  # each row acknowledged by exactly one process
                check_exactly_once_in_order(store, cluster.dvcqg.app.received(), measured)
            finally:
                figures(**measured)
        finally:
            store.dispose()


def runs_table(store: Store) -> list[dict]:
    """Every run of the route as the store recorded it (its JSON summary), in start order."""
    with store.session() as session:
        rows = session.execute(select(Run.counts).where(Run.route == "dossier_sync").order_by(Run.id)).all()
    return [json.loads(counts) for (counts,) in rows]


def test_four_run_processes_pull_once_and_deliver_together(pg_url, tmp_path, figures):
    """Several ``lienthong run`` on one store (issue 4: "several workers share the work"): one of them
    pulls, the others find nothing left to pull and deliver; every process ends successfully and the
    portal gets every dossier once.

    The first process starts alone and the three others as soon as it reports that it is delivering
    (its phase, :mod:`lienthong.phases`): then which one pulls is known, and "the others delivered" does
    not depend on the order in which a loaded machine starts processes.  Started earlier, a process
    that finds the pull or the mapping taken and nothing claimable yet ends at once with nothing
    delivered: measured 0 / 3,913 / 0 / 0 (started together) and 3,913 / 0 / 0 / 0 (the others started
    when the first reported ``map``)."""
    mappings = edited_mappings(tmp_path / "mappings", read_timeout=30, attempts=8)
    with SimulatorCluster(motcua_settings={"seed": 45, "total": DOSSIERS, "mess_rate": 0.0}) as cluster:
        cluster.dvcqg.app.faults.configure(FaultConfig(latency_ms=LATENCY_MS))
        env = worker_env(pg_url, mappings, cluster.connection_env(), tmp_path / "home")
        command = [str(LIENTHONG), "run", "dossier_sync", "--json", "--no-progress", "--concurrency", "2"]
        store = Store(pg_url)
        try:
            summaries = run_together(
                [command] * WORKERS, env, tmp_path / "workers", first_until=phases.DELIVER
            )
            # Whatever a process left to the others (it may have finished before the pull did), a last run
            # completes the route; then the same guarantees hold.
            last = run_together([command], env, tmp_path / "last")[0]
            pulled = [s["records"]["pulled"] for s in summaries]
            acknowledged = [s["deliveries"].get("acknowledged", 0) for s in summaries]
            recorded = runs_table(store)
            measured: dict = {
                "pulled_per_process": pulled,
                "acknowledged_per_process": acknowledged,
                "pull_skipped": [bool(s.get("pull_skipped")) for s in summaries],
                "map_skipped": [bool(s.get("map_skipped")) for s in summaries],
                "last_run_acknowledged": last["deliveries"].get("acknowledged", 0),
            }
            try:
                # One process pulled (all of it), the others pulled nothing and delivered.
                assert pulled == [DOSSIERS] + [0] * (WORKERS - 1), pulled
                assert all(n > 0 for n in acknowledged[1:]), (
                    f"a non-pulling process delivered nothing: {acknowledged}"
                )
                # The runs table says the same as the processes' own summaries.
                assert sorted(r["records"]["pulled"] for r in recorded[:WORKERS]) == sorted(pulled)
                assert sum(r["deliveries"].get("acknowledged", 0) for r in recorded) == sum(acknowledged) + (
                    last["deliveries"].get("acknowledged", 0)
                )
                check_exactly_once_in_order(store, cluster.dvcqg.app.received(), measured)
            finally:
                figures(**measured)
        finally:
            store.dispose()
