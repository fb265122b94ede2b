"""A worker that sent a batch and died before recording the answers: the rows it held come back
marked "outcome unknown", and the next worker asks the portal before writing, so nothing is written
twice (not even an exact repeat)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from connectors.targets import Delivery, open_target
from lienthong import states
from lienthong.store import outbox
from lienthong.workers import HOST
from tests.integration.conftest import MAPPINGS, received


def a_dead_worker_id() -> str:
    """The worker id of a process that has exited (the pid of a child that already ended)."""
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    return f"{HOST}:{gone.stdout.strip()}:1"


@pytest.mark.motcua(total=30)
def test_dossiers_sent_by_a_worker_that_died_are_not_written_again(cluster, gateway):
    assert gateway.run("dossier_sync", deliver=False).transform.mapped == 30
    rows = outbox.claim(gateway.store, "dvcqg", "DongBoHoSoMC", a_dead_worker_id(), 5, lease_seconds=600)
    target = open_target("dvcqg", MAPPINGS)
    try:  # what the worker did before it was killed: the portal took the batch
        results = target.send(
            "DongBoHoSoMC", [Delivery(r.id, r.record_key, json.loads(r.payload), False) for r in rows]
        )
    finally:
        target.close()
    assert all(result.ok for result in results)

    summary = gateway.run("dossier_sync")  # a restart: recovers the dead worker's rows first

    assert summary.status == "succeeded" and summary.deliver.resolved_by_lookup == len(rows) == 5
    portal = received(cluster.dvcqg)
    assert len(portal["dossiers"]) == 30
    assert portal["totals"]["dossier_repeats"] == 0
    assert all(portal["dossiers"][row.record_key]["writes"] == 1 for row in rows)
    counts = outbox.state_counts(gateway.store, route="dossier_sync")
    assert counts[states.DEAD] == 0 and all(counts[state] == 0 for state in states.LIVE_STATES)
