"""Running a route's DAG with ``dag.test()`` and reading what happened, for the Airflow tests."""

from __future__ import annotations

import json
import warnings
from typing import Any

import requests
import yaml
from sqlalchemy import func, select

from lienthong.store import Store
from lienthong.store.models import OutboxRow, Run
from tests.airflow.conftest import DAGS_FOLDER


def load_dagbag():  # noqa: ANN201
    from airflow.dag_processing.dagbag import DagBag

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        bag = DagBag(dag_folder=str(DAGS_FOLDER))
    return bag, caught


def run_dag(dag_id: str) -> tuple[Any, dict[tuple[str, int], Any]]:
    """One DAG run in this process (tasks in-process, Airflow's SQLite metadata DB); its task instances
    by (task id, map index)."""
    bag, _ = load_dagbag()
    assert not bag.import_errors, bag.import_errors
    dag_run = bag.dags[dag_id].test()
    return dag_run, {(ti.task_id, ti.map_index): ti for ti in dag_run.get_task_instances()}


def received(sim, **params) -> dict:
    return requests.get(f"{sim.url}/_sim/received", params=params, timeout=30).json()


def outbox_states(store_url: str, operation: str | None = None) -> dict[str, int]:
    store = Store(store_url)
    try:
        with store.session() as session:
            query = select(OutboxRow.state, func.count()).group_by(OutboxRow.state)
            if operation:
                query = query.where(OutboxRow.operation == operation)
            return dict(session.execute(query).all())
    finally:
        store.dispose()


def acknowledged_items(store_url: str, operation: str) -> int:
    store = Store(store_url)
    try:
        with store.session() as session:
            return session.execute(
                select(func.coalesce(func.sum(OutboxRow.item_count), 0)).where(
                    OutboxRow.operation == operation, OutboxRow.state == "acknowledged"
                )
            ).scalar_one()
    finally:
        store.dispose()


def engine_runs(store_url: str) -> list[dict[str, Any]]:
    """The engine's record of each DAG run (``runs`` of kind ``airflow``)."""
    store = Store(store_url)
    try:
        with store.session() as session:
            runs = session.execute(select(Run).where(Run.kind == "airflow").order_by(Run.id)).scalars().all()
            return [
                {"status": r.status, "actor": r.actor, "error": r.error, **json.loads(r.counts or "{}")}
                for r in runs
            ]
    finally:
        store.dispose()


def edit_yaml(path, change) -> None:  # noqa: ANN001
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
