"""The run's outcome is the Airflow tasks' state: ``dag.test()`` against the simulators.

A portal that is down fails its deliver tasks and the reconcile task (which still runs and closes the
engine run), with one alert for the DAG run; a wrong agency code fails the run as a configuration
fault naming the field, the rows stay pending, and the next run after the fix delivers them without
a replay and brings the first run's figures up to date.
"""

from __future__ import annotations

import json
import socket

import pytest
from sqlalchemy import func, select

from lienthong import states
from lienthong.connections import connection_json
from lienthong.store import Store
from lienthong.store.models import Replay
from simulators.cluster import DVCQG_PASSWORD, DVCQG_USERNAME
from tests.airflow.helpers import edit_yaml, engine_runs, outbox_states, received, run_dag

pytestmark = pytest.mark.airflow


def no_airflow_retries(mappings, route: str) -> None:
    """No Airflow retry (each would wait ``retry_delay``) and no wait for engine retries."""
    edit_yaml(
        mappings / f"{route}.yaml", lambda data: data.update(airflow={"retries": 0, "wait_for_retries": 0})
    )


def test_a_portal_that_is_down_fails_deliver_and_reconcile_with_one_alert(
    airflow_db, cluster, route_env, mappings, monkeypatch, webhook
):
    no_airflow_retries(mappings, "catalogue_sync")
    monkeypatch.setenv("LIENTHONG_MAPPINGS", str(mappings))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv(
        "AIRFLOW_CONN_DVCQG",
        connection_json(
            f"http://127.0.0.1:{port}", DVCQG_USERNAME, DVCQG_PASSWORD, dstcode="83", madonvi="x"
        ),
    )

    dag_run, tis = run_dag("catalogue_sync")
    assert dag_run.state == "failed"
    delivers = [ti for (task_id, _), ti in tis.items() if task_id == "deliver"]
    assert delivers and all(ti.state == "failed" for ti in delivers)
    assert tis[("extract", -1)].state == tis[("transform", -1)].state == "success"
    assert tis[("reconcile", -1)].state == "failed"  # it ran after the failed deliver, and failed

    alerts = [hit["body"] for hit in webhook]
    assert len(alerts) == 1, alerts  # one for the DAG run, not one per batch
    (alert,) = alerts
    assert alert["event"] == "run_failed" and alert["route"] == "catalogue_sync"
    assert any(f"127.0.0.1:{port}" in reason and "unreachable" in reason for reason in alert["reasons"])
    assert DVCQG_PASSWORD not in json.dumps(alerts)

    url = route_env["LIENTHONG_DATABASE_URL"]
    (run,) = engine_runs(url)
    rec = run["reconciliation"]
    assert run["status"] == "failed" and f"127.0.0.1:{port}" in run["error"]
    assert rec["acknowledged"] == 0 and rec["pending"] > 0 and rec["dead"] == 0 and rec["missing"] == 0
    assert rec["pulled"] == rec["pending"] + rec["filtered"] + rec["quarantined"] + rec["unchanged"]
    assert outbox_states(url).get(states.ACKNOWLEDGED, 0) == 0


def test_a_wrong_agency_code_is_a_configuration_fault_and_the_next_run_delivers_without_replay(
    airflow_db, cluster, route_env, mappings, monkeypatch, webhook
):
    no_airflow_retries(mappings, "dossier_sync")
    monkeypatch.setenv("LIENTHONG_MAPPINGS", str(mappings))
    good = route_env["AIRFLOW_CONN_DVCQG"]
    monkeypatch.setenv(
        "AIRFLOW_CONN_DVCQG",
        connection_json(
            cluster.dvcqg.url, DVCQG_USERNAME, DVCQG_PASSWORD, dstcode="83", madonvi="000.00.99.H99"
        ),
    )

    dag_run, tis = run_dag("dossier_sync")
    assert dag_run.state == "failed" and tis[("reconcile", -1)].state == "failed"
    assert any(ti.state == "failed" for (task_id, _), ti in tis.items() if task_id == "deliver")
    url = route_env["LIENTHONG_DATABASE_URL"]
    first = engine_runs(url)[0]
    assert first["status"] == "failed"
    assert "madonvi" in first["error"] and "check the configuration" in first["error"]
    assert states.DEAD not in outbox_states(url)  # held pending, not dead letters
    assert first["reconciliation"]["pending"] == 300 and first["reconciliation"]["dead"] == 0
    assert received(cluster.dvcqg)["dossiers"] == {}
    (alert,) = [hit["body"] for hit in webhook]
    assert alert["event"] == "run_failed" and any("madonvi" in reason for reason in alert["reasons"])

    monkeypatch.setenv("AIRFLOW_CONN_DVCQG", good)  # the fix
    dag_run, tis = run_dag("dossier_sync")
    assert dag_run.state == "success", {key: ti.state for key, ti in tis.items()}
    assert len(received(cluster.dvcqg)["dossiers"]) == 300
    assert set(outbox_states(url)) == {states.ACKNOWLEDGED}
    store = Store(url)
    try:
        with store.session() as session:
            assert session.execute(select(func.count()).select_from(Replay)).scalar_one() == 0  # no replay
    finally:
        store.dispose()
    first, second = engine_runs(url)
    assert second["status"] == "succeeded" and second["reconciliation"]["pulled"] == 0  # its own records
    # The first run's figures now say what became of its records, and who settled them.
    assert first["reconciliation"]["acknowledged"] == 300 and first["reconciliation"]["pending"] == 0
    assert first["updated_by"]["run_id"] > 0 and first["status"] == "failed"
