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


def _environ_of(pid: int) -> dict[str, str]:
    raw = open(f"/proc/{pid}/environ", "rb").read().split(b"\0")  # noqa: SIM115
    return dict(item.decode(errors="replace").split("=", 1) for item in raw if b"=" in item)


def test_the_operators_settings_reach_every_component(airflow_cluster):
    """Alert webhook, archive key ring (as a file) and SMTP settings: in the environment the processes
    were started with, read from /proc (not from the cluster's own computation).  Airflow's processes
    rename themselves (setproctitle), which moves their environment block out of /proc's view: those
    are proven by effect instead (the webhook receives the workers' alert, the CLI opens what the
    workers sealed with the file's key ring: the next test)."""
    expected = airflow_cluster.operator_environment
    readable = []
    for component in airflow_cluster.components():
        pid = airflow_cluster._pid(component.name)
        assert pid is not None, f"{component.name} is not running"
        env = _environ_of(pid)
        if "PATH" not in env:
            continue  # overwritten by setproctitle
        readable.append(component.name)
        for key, value in expected.items():
            assert env.get(key) == value, (component.name, key)
    assert readable, "no component's environment was readable"


def test_a_dead_letter_alerts_the_webhook_and_the_printed_cli_environment_reads_it(
    airflow_cluster, finished_run, tmp_path
):
    """A dossier the portal refuses (appointment before reception: -1) becomes a dead letter; the
    run alerts the operator's webhook; `lienthong dead list/show` run with the environment that
    `airflow-cluster.sh env` prints (and nothing else of this process's) reads it from the cluster's
    store with the cluster's key ring."""
    import json
    import os
    import subprocess
    import sys

    motcua = f"http://127.0.0.1:{airflow_cluster.config.sim_ports[0]}"
    code, source_id = _an_acknowledged_dossier(airflow_cluster)
    patched = requests.post(
        f"{motcua}/_sim/dossiers/{source_id}",
        json={"appointmentDate": "2001-01-01T08:00:00.000+0700"},
        timeout=30,
    )
    assert patched.status_code == 200, patched.text[:300]
    before = len(airflow_cluster.webhook.received)
    airflow_cluster.rest.run_dag(DAG, timeout=300)
    alerts = [a for a in airflow_cluster.webhook.received[before:] if a.get("route") == DAG]
    assert alerts, f"no alert reached the webhook: {airflow_cluster.webhook.received}"

    script = tmp_path / "cli-env.sh"
    script.write_text("\n".join(airflow_cluster.cli_environment(airflow_cluster.operator_environment)) + "\n")
    lienthong = f"{os.path.dirname(sys.executable)}/lienthong"
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("LIENTHONG_", "AIRFLOW"))}
    done = subprocess.run(
        ["bash", "-c", f". {script} && {lienthong} dead list --route {DAG} --json"],
        env=clean, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    dead = json.loads(done.stdout)
    assert [row["record_key"] for row in dead] == [code], [row["record_key"] for row in dead]
    shown = subprocess.run(
        ["bash", "-c", f". {script} && {lienthong} dead show {dead[0]['id']}"],
        env=clean, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert shown.returncode == 0, shown.stderr[-2000:]  # the sealed payload opened with the cluster's ring


def _an_acknowledged_dossier(cluster) -> tuple[str, str]:  # noqa: ANN001
    """(dossier code, source id) of one dossier the portal acknowledged in the first run."""
    from lienthong.store import Store
    from lienthong.store.models import OutboxRow, StagedRecord

    store = Store(cluster.environment()["LIENTHONG_DATABASE_URL"], migrate=False)
    try:
        with store.session() as session:
            return tuple(
                session.execute(
                    select(OutboxRow.record_key, StagedRecord.source_id)
                    .join(StagedRecord, StagedRecord.id == OutboxRow.staged_id)
                    .where(OutboxRow.operation == "DongBoHoSoMC", OutboxRow.state == "acknowledged")
                    .order_by(OutboxRow.id)
                    .limit(1)
                ).one()
            )
    finally:
        store.dispose()
