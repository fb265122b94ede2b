"""``dag.test()`` of every route against the simulators on loopback, on a SQLite store: what the targets
received, what the outbox holds, how the tasks ended."""

from __future__ import annotations

import json

import pytest
import requests

from lienthong import states
from tests.airflow.helpers import (
    acknowledged_items,
    edit_yaml,
    engine_runs,
    outbox_states,
    received,
    run_dag,
)

pytestmark = pytest.mark.airflow


def assert_first_try_success(tis) -> None:
    failed = {
        key: (ti.state, ti.try_number)
        for key, ti in tis.items()
        if (ti.state, ti.try_number) != ("success", 1)
    }
    assert not failed, failed


def test_dossier_sync_dag_delivers_every_dossier_and_its_progress_once(airflow_db, cluster, route_env):
    dag_run, tis = run_dag("dossier_sync")
    assert dag_run.state == "success"
    assert_first_try_success(tis)
    deliver_tasks = [ti for (task_id, _), ti in tis.items() if task_id == "deliver"]
    assert len(deliver_tasks) >= 2 and all(ti.pool == "lienthong_dvcqg" for ti in deliver_tasks)

    portal = received(cluster.dvcqg)
    assert len(portal["dossiers"]) == 300
    assert all(entry["writes"] == 1 and entry["repeats"] == 0 for entry in portal["dossiers"].values())
    url = route_env["LIENTHONG_DATABASE_URL"]
    assert portal["totals"]["progress_records"] == acknowledged_items(url, "CapNhatTienDoHoSoMC") > 0
    assert portal["totals"]["progress_repeats"] == 0
    assert set(outbox_states(url)) == {states.ACKNOWLEDGED}

    (run,) = engine_runs(url)
    rec = run["reconciliation"]
    assert run["status"] == "succeeded" and run["actor"].startswith("airflow:manual__")
    assert (rec["pulled"], rec["acknowledged"], rec["missing"], rec["dead"], rec["ok"]) == (
        300,
        300,
        0,
        0,
        True,
    )
    assert run["deliveries"]["batches"] == len(deliver_tasks)

    # The run ended with a signed checkpoint of the ledger's head, and the ledger verifies.
    from lienthong.audit.checkpoints import from_table
    from lienthong.audit.verify import verify_ledger
    from lienthong.store import Store

    store = Store(url)
    try:
        assert len(from_table(store)) == 1
        assert verify_ledger(store).ok
    finally:
        store.dispose()


def test_catalogue_sync_dag_publishes_the_online_services(airflow_db, cluster, route_env):
    dag_run, tis = run_dag("catalogue_sync")
    assert dag_run.state == "success"
    assert_first_try_success(tis)
    catalogue = received(cluster.dvcqg)["catalogue"]
    url = route_env["LIENTHONG_DATABASE_URL"]
    assert len(catalogue) == outbox_states(url)[states.ACKNOWLEDGED] > 0
    assert set(outbox_states(url)) == {states.ACKNOWLEDGED}
    rec = engine_runs(url)[0]["reconciliation"]
    assert rec["filtered"] > 0 and rec["acknowledged"] == len(catalogue)
    assert rec["pulled"] == rec["acknowledged"] + rec["filtered"] and rec["ok"]


def test_birth_bhyt_dag_registers_the_children_with_the_registry(airflow_db, cluster, route_env):
    dag_run, tis = run_dag("birth_bhyt")
    assert dag_run.state == "success"
    assert_first_try_success(tis)
    assert all(ti.pool == "lienthong_bhxh" for (task_id, _), ti in tis.items() if task_id == "deliver")
    registry = requests.get(f"{cluster.bhxh.url}/_sim/received", timeout=30).json()
    url = route_env["LIENTHONG_DATABASE_URL"]
    assert registry["totals"]["registrations"] == outbox_states(url)[states.ACKNOWLEDGED] > 0
    assert registry["totals"]["repeats"] == 0 and registry["duplicates"] == {}
    rec = engine_runs(url)[0]["reconciliation"]
    assert rec["pulled"] == 300 and rec["acknowledged"] == registry["totals"]["registrations"] and rec["ok"]


def test_a_second_run_pulls_nothing_new_and_sends_nothing(airflow_db, cluster, route_env):
    run_dag("catalogue_sync")
    calls = received(cluster.dvcqg, summary=1)["totals"]["calls"]
    dag_run, tis = run_dag("catalogue_sync")
    assert dag_run.state == "success"
    assert received(cluster.dvcqg, summary=1)["totals"]["calls"] == calls
    second = engine_runs(route_env["LIENTHONG_DATABASE_URL"])[1]
    assert second["status"] == "succeeded" and second["reconciliation"]["pulled"] == 0


def test_portal_faults_are_retried_inside_the_engine_not_by_failing_airflow_tasks(
    airflow_db, cluster, route_env
):
    # One fault of every kind, each followed by a good answer: the breaker (5 consecutive failures) stays
    # closed, so every fault is met by the engine's retry policy.
    faults = ["http_503", "reset", "http_500", "http_429", "drop_after_commit", "http_502", "stall", "reset"]
    script = [step for fault in faults for step in (fault, "none")]
    requests.post(
        f"{cluster.dvcqg.url}/_sim/faults",
        json={"script": script, "paths": ["/api/service"], "stall_seconds": 0.3, "retry_after": 0},
        timeout=5,
    ).raise_for_status()
    dag_run, tis = run_dag("dossier_sync")
    assert dag_run.state == "success"
    assert_first_try_success(tis)  # no Airflow retry: the engine absorbed every fault
    seen = requests.get(f"{cluster.dvcqg.url}/_sim/faults", timeout=5).json()
    assert seen["injected_total"] == len(faults)
    portal = received(cluster.dvcqg)
    assert len(portal["dossiers"]) == 300
    assert all(entry["writes"] == 1 for entry in portal["dossiers"].values())  # exactly once in effect
    url = route_env["LIENTHONG_DATABASE_URL"]
    assert set(outbox_states(url)) == {states.ACKNOWLEDGED}
    run = engine_runs(url)[0]
    assert run["reconciliation"]["acknowledged"] == 300 and run["reconciliation"]["ok"]
    # The portal saw the refused calls on top of the calls it processed: each was made again, and went through.
    processed = sum(portal["totals"]["calls"].values())
    assert seen["requests_seen"] >= processed + len(faults) - 1  # drop_after_commit was processed


def test_a_dead_record_fails_reconcile_with_one_alert_and_nothing_else(
    airflow_db, cluster, route_env, mappings, monkeypatch, webhook
):
    """A province's code list maps one-stop status 3 to 44, which the portal refuses (the schema check is
    off, so the refusal comes from the portal itself): those dossiers die, the others arrive.  The
    deliver tasks succeed (their neighbours went through); reconcile fails, since new dead letters are
    a gap the run could not settle, and sends the DAG run's one alert."""
    edit_yaml(mappings / "dossier_sync.yaml", lambda route: route["target"].pop("schema"))
    codes = mappings / "codelists" / "motcua_status.csv"
    lines = codes.read_text(encoding="utf-8").splitlines()
    codes.write_text(
        "\n".join(line.rsplit(",", 1)[0] + ",44" if line.startswith("3,") else line for line in lines) + "\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("LIENTHONG_MAPPINGS", str(mappings))

    dag_run, tis = run_dag("dossier_sync")
    assert dag_run.state == "failed"
    assert_first_try_success({key: ti for key, ti in tis.items() if key[0] != "reconcile"})
    assert tis[("reconcile", -1)].state == "failed"
    url = route_env["LIENTHONG_DATABASE_URL"]
    dead = outbox_states(url, "DongBoHoSoMC")[states.DEAD]
    assert dead > 0
    assert len(received(cluster.dvcqg)["dossiers"]) == 300 - dead  # their neighbours were delivered
    run = engine_runs(url)[0]
    rec = run["reconciliation"]
    assert (rec["dead"], rec["acknowledged"], rec["missing"], rec["ok"]) == (dead, 300 - dead, 0, True)
    assert run["status"] == "partial" and "dead letters" in run["error"]
    (alert,) = [hit for hit in webhook]
    assert alert["body"]["event"] == "run_failed" and alert["body"]["dead"] == dead
    assert alert["body"]["route"] == "dossier_sync"
    assert alert["authorization"] == "Bearer webhook-token-x"


def test_a_failed_task_alerts_once_its_retries_are_spent_without_the_secret(
    airflow_db, cluster, route_env, mappings, monkeypatch, webhook
):
    """The one-stop system refuses the gateway's client secret: ``extract`` fails as a whole task (no
    Airflow retry here: ``airflow: {retries: 0}`` in the route file), the failure callback alerts without
    the secret, the engine's run is recorded as failed, and nothing downstream runs."""
    edit_yaml(mappings / "catalogue_sync.yaml", lambda route: route.update(airflow={"retries": 0}))
    monkeypatch.setenv("LIENTHONG_MAPPINGS", str(mappings))
    source = json.loads(route_env["AIRFLOW_CONN_MOTCUA"])
    monkeypatch.setenv("AIRFLOW_CONN_MOTCUA", json.dumps({**source, "password": "wrong-secret-123"}))

    dag_run, tis = run_dag("catalogue_sync")
    assert dag_run.state == "failed"
    assert (tis[("extract", -1)].state, tis[("extract", -1)].try_number) == ("failed", 1)
    assert tis[("transform", -1)].state == "upstream_failed"
    failures = [hit["body"] for hit in webhook if hit["body"]["event"] == "task_failed"]
    assert len(failures) == 1
    body = failures[0]
    assert (body["dag_id"], body["task_id"], body["map_index"]) == ("catalogue_sync", "extract", -1)
    assert body["error"] and body["run_id"].startswith("manual__")
    assert "wrong-secret-123" not in json.dumps(webhook)
    url = route_env["LIENTHONG_DATABASE_URL"]
    (run,) = engine_runs(url)
    assert run["status"] == "failed" and run["error"].startswith("extract: ")
    assert outbox_states(url) == {} and received(cluster.dvcqg, summary=1)["totals"]["calls"] == {}


def test_connections_defined_only_in_airflow_reach_the_tasks(airflow_db, cluster, route_env, monkeypatch):
    """No AIRFLOW_CONN_MOTCUA / _DVCQG in the environment: the tasks resolve them through Airflow."""
    from airflow.models.connection import Connection
    from airflow.settings import Session

    env = {name: json.loads(route_env[f"AIRFLOW_CONN_{name.upper()}"]) for name in ("motcua", "dvcqg")}
    session = Session()
    for conn_id, data in env.items():
        host, port = data["host"].removeprefix("http://").split(":")
        session.query(Connection).filter(Connection.conn_id == conn_id).delete()
        session.add(
            Connection(
                conn_id=conn_id,
                conn_type="http",
                host=host,
                port=int(port),
                login=data["login"],
                password=data["password"],
                extra=json.dumps(data["extra"]),
            )
        )
        monkeypatch.delenv(f"AIRFLOW_CONN_{conn_id.upper()}")
    session.commit()
    try:
        dag_run, tis = run_dag("catalogue_sync")
        assert dag_run.state == "success"
        assert_first_try_success(tis)
        assert len(received(cluster.dvcqg)["catalogue"]) > 0
    finally:
        session.query(Connection).filter(Connection.conn_id.in_(list(env))).delete()
        session.commit()
        session.close()
