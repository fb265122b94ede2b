"""The route DAG's ``remap`` run parameter (issue #17, item 3): a run triggered with ``{"remap": true}``
after a code-list fix rewrites exactly the affected dossiers at the portal, once; a plain run does not."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from lienthong.store import Store
from lienthong.store.models import StagedRecord
from tests.airflow.conftest import airflow_db, cluster, route_env  # noqa: F401 - the Airflow tier's fixtures
from tests.airflow.helpers import load_dagbag, received
from tests.lifecycle import settle_env
from tests.lifecycle.settle_env import set_status_code

mappings = settle_env.mappings  # a fixture
pytestmark = [pytest.mark.airflow, pytest.mark.motcua(total=40, mess_rate=0.0)]


def _trigger(conf: dict | None = None):
    bag, _ = load_dagbag()
    assert not bag.import_errors, bag.import_errors
    dag_run = bag.dags["dossier_sync"].test(run_conf=conf)
    assert dag_run.state == "success"
    return dag_run


def test_a_dag_run_with_remap_rewrites_exactly_the_affected_dossiers(
    airflow_db,  # noqa: F811
    cluster,  # noqa: F811
    route_env,  # noqa: F811
    mappings,
    monkeypatch,
):
    monkeypatch.setenv("LIENTHONG_MAPPINGS", str(mappings))
    set_status_code(mappings, 3, 5)  # the bug
    _trigger()
    store = Store(route_env["LIENTHONG_DATABASE_URL"])
    try:
        with store.session() as session:
            statuses = {
                row.record_key: json.loads(row.body)["dossierStatus"]["id"]
                for row in session.execute(select(StagedRecord)).scalars()
            }
    finally:
        store.dispose()
    affected = {key for key, status in statuses.items() if status == 3}
    assert affected and len(received(cluster.dvcqg)["dossiers"]) == len(statuses)

    set_status_code(mappings, 3, 4)  # the fix
    _trigger()  # a plain run: nothing changed at the source, nothing is sent
    assert all(e["writes"] == 1 for e in received(cluster.dvcqg)["dossiers"].values())
    _trigger({"remap": True})
    portal = received(cluster.dvcqg)["dossiers"]
    assert {key for key, e in portal.items() if e["writes"] == 2} == affected
    assert all(e["writes"] == 1 for key, e in portal.items() if key not in affected)
    assert all(
        portal[key]["data"]["TrangThaiHoSo"] == "4" and portal[key]["repeats"] == 0 for key in affected
    )
