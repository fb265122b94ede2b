"""The dossier DAG on a real CeleryExecutor cluster: triggered through the REST API v2, run by two
Celery workers, every dossier at the portal exactly once; the status plugin through the real API
server refuses anonymous calls and reports the store's numbers."""

from __future__ import annotations

import pytest
import requests
from sqlalchemy import func, select

from tests.airflow_cluster.conftest import DOSSIERS

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

DAG = "dossier_sync"


@pytest.fixture(scope="module")
def finished_run(airflow_cluster):
    run = airflow_cluster.rest.run_dag(DAG, timeout=300)
    if run["state"] != "success":
        failed = [
            (t["task_id"], t["map_index"], t["state"])
            for t in airflow_cluster.rest.task_instances(DAG, run["dag_run_id"])
            if t["state"] != "success"
        ]
        names = [c.name for c in airflow_cluster.components()]
        pytest.fail(
            f"DAG run ended {run['state']}; unfinished tasks {failed}\n{airflow_cluster.tail(names)}\n"
            + _task_log_tails(airflow_cluster, run["dag_run_id"], {task for task, _, _ in failed})
        )
    return run


def _task_log_tails(cluster, run_id: str, task_ids: set[str], lines: int = 30) -> str:  # noqa: ANN001
    """The end of the task logs of the tasks that did not succeed (the task's own error is there)."""
    parts = []
    for path in sorted(
        (cluster.logs / "tasks" / f"dag_id={DAG}").glob(f"run_id={run_id}/task_id=*/**/*.log")
    ):
        task = path.relative_to(cluster.logs / "tasks").parts[2].removeprefix("task_id=")
        if task in task_ids:
            tail = path.read_text(errors="replace").splitlines()[-lines:]
            parts.append(f"--- task log {path.relative_to(cluster.logs)} ---\n" + "\n".join(tail))
    return "\n".join(parts[:6])


def test_every_dossier_reaches_the_portal_exactly_once(airflow_cluster, finished_run):
    from lienthong.store import Store
    from lienthong.store.models import OutboxRow, StagedRecord

    portal = f"http://127.0.0.1:{airflow_cluster.config.sim_ports[1]}"
    totals = requests.get(f"{portal}/_sim/received", params={"summary": 1}, timeout=30).json()["totals"]
    store = Store(airflow_cluster.environment()["LIENTHONG_DATABASE_URL"], migrate=False)
    try:
        with store.session() as session:
            pulled = session.scalar(
                select(func.count()).select_from(StagedRecord).where(StagedRecord.route == DAG)
            )
            mapped = session.scalar(
                select(func.count()).select_from(StagedRecord)
                .where(StagedRecord.route == DAG, StagedRecord.state == "mapped")
            )  # fmt: skip
            acked = session.scalar(
                select(func.count(func.distinct(OutboxRow.record_key))).where(
                    OutboxRow.route == DAG,
                    OutboxRow.operation == "DongBoHoSoMC",
                    OutboxRow.state == "acknowledged",
                )
            )
            live = session.scalar(
                select(func.count()).select_from(OutboxRow)
                .where(OutboxRow.state.in_(("pending", "in_flight", "retry_scheduled", "dead")))
            )  # fmt: skip
    finally:
        store.dispose()
    assert pulled == DOSSIERS
    assert mapped == acked == totals["dossiers"], (mapped, acked, totals)
    assert totals["dossiers"] > 0.9 * DOSSIERS  # a few may be quarantined by the mapping; none here lost
    assert totals["dossier_writes"] == totals["dossiers"]  # one effective write each
    assert totals["dossier_repeats"] == 0 and totals["progress_repeats"] == 0
    assert live == 0


def test_both_workers_ran_deliver_batches(airflow_cluster, finished_run):
    tasks = airflow_cluster.rest.task_instances(DAG, finished_run["dag_run_id"])
    deliver = [t for t in tasks if t["task_id"] == "deliver"]
    assert len(deliver) >= 5, f"only {len(deliver)} deliver batches: not enough to spread"
    assert all(t["state"] == "success" for t in tasks)
    by_worker: dict[str, int] = {}
    for t in deliver:
        by_worker[t["hostname"]] = by_worker.get(t["hostname"], 0) + 1
    assert set(by_worker) == {"worker-1", "worker-2"}, by_worker
    assert {t["task_id"] for t in tasks} == {"extract", "transform", "deliver", "reconcile"}


def test_status_plugin_behind_airflow_authentication(airflow_cluster, finished_run):
    url = f"{airflow_cluster.config.api_url}/lienthong/status"
    assert requests.get(url, timeout=30).status_code == 401
    bad = requests.get(url, headers={"Authorization": "Bearer forged.token.value"}, timeout=30)
    assert bad.status_code == 401
    answer = requests.get(
        url, headers={"Authorization": f"Bearer {airflow_cluster.rest.token()}"}, timeout=60
    )
    assert answer.status_code == 200, answer.text[:500]
    body = answer.json()
    assert body["targets"]["dvcqg"]["backlog"] == 0
    assert body["dead_letters"] == 0
    assert body["reconciliation"][DAG]["pulled"] == DOSSIERS
    assert body["reconciliation"][DAG]["missing"] == 0
    metrics = requests.get(
        f"{airflow_cluster.config.api_url}/lienthong/metrics",
        headers={"Authorization": f"Bearer {airflow_cluster.rest.token()}"},
        timeout=60,
    )
    assert (
        metrics.status_code == 200
        and 'lienthong_outbox_backlog{state="pending",target="dvcqg"} 0.0' in metrics.text
    )
