"""The DAG factory: one DAG per route file in ``mappings/``, so a new route file is a new DAG, no Python.

    extract ──> transform ──> deliver ×N (mapped over key-range batches) ──> reconcile

Parsing builds graphs only: the route files are read as plain YAML for their name, schedule, target
and ``airflow:`` block (:mod:`lienthong.airflow.settings`); no mapping is compiled and nothing touches
the network or a database until a task runs (the engine is imported inside the tasks).

A run triggered with ``{"remap": true}`` first brings the records already delivered up to the current
mapping (``lienthong.remap``: only those whose payload changes are queued; the run's deliver tasks send
them).  A parameter of the transform task rather than a task of its own: the remapped rows must exist
before the transform task plans the delivery batches.

Scheduling follows the engine, not Airflow's intervals: ``extract`` pulls from the route's watermark,
so a late run catches up by itself — ``catchup=False`` and one active run per route.  Airflow retries
a whole task (``retries`` of the route, default 2); HTTP retries, the circuit breaker and rate limits
live in the engine, so a flaky target shows as retried calls inside a succeeded task, and a target that
is down as a failed deliver task.

``reconcile`` runs whatever its upstream tasks did (``trigger_rule="all_done"``), so the engine run is
always closed; it reads the run id from the extract task's XCom and the batches' results from the
store (a failed mapped task hands no XCom on).  Alerts: ``extract`` and ``transform`` alert on failure
through the callback; a failed ``deliver`` does not (there may be dozens of mapped tasks): the
reconcile task sends the one alert of the DAG run, naming every failed batch's reason.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pendulum
from airflow.sdk import DAG, Param, dag, get_current_context, task

from lienthong.airflow.alerts import on_task_failure
from lienthong.airflow.settings import RouteDagSettings, read_routes

#: Fixed, in the past, in Vietnam time: cron schedules of the route files are read in local time.
START_DATE = pendulum.datetime(2025, 1, 1, tz="Asia/Ho_Chi_Minh")


def build_route_dag(route: RouteDagSettings) -> DAG:
    name = route.route

    @dag(
        dag_id=name,
        description=route.description or None,
        schedule=route.schedule,
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,
        tags=["lienthong", route.target],
        doc_md=(
            f"**{name}**: {route.description}\n\nRoute file `{route.path.name}`. extract → transform → "
            f"deliver (batches of about {route.batch_size} outbox rows, pool `{route.pool}`) → reconcile. "
            "See docs/airflow.md."
        ),
        params={
            "remap": Param(
                False,
                type="boolean",
                description="Before mapping, queue the delivered records whose payload the current mapping "
                "changes (after a code-list fix; see docs/operations.md).",
            )
        },
        default_args={
            "owner": "lienthong",
            "retries": route.retries,
            "retry_delay": timedelta(seconds=route.retry_delay_seconds),
            "on_failure_callback": on_task_failure,
        },
    )
    def route_dag() -> None:
        @task(task_id="extract")
        def extract() -> dict[str, Any]:
            from lienthong.airflow.tasks import extract_step

            dag_run = get_current_context()["dag_run"]
            return extract_step(name, actor=f"airflow:{dag_run.run_id}")

        @task(task_id="transform")
        def transform(extracted: dict[str, Any]) -> list[dict[str, Any]]:
            from lienthong.airflow.tasks import transform_step

            context = get_current_context()
            if context["params"].get("remap"):  # before the batches are planned: they carry its rows
                from lienthong.airflow.remap_task import remap_step

                remapped = remap_step(name, actor=f"airflow:{context['dag_run'].run_id}")
                context["ti"].xcom_push(key="remap", value=remapped)
            counts, batches = transform_step(name, extracted["run_id"], route.batch_size)
            context["ti"].xcom_push(key="counts", value=counts)
            return batches  # the list the deliver tasks are mapped over

        # No failure callback: the reconcile task alerts once for the DAG run, not once per batch.
        @task(
            task_id="deliver",
            pool=route.pool,
            map_index_template="{{ batch_label }}",
            on_failure_callback=None,
        )
        def deliver(batch: dict[str, Any]) -> dict[str, Any]:
            from lienthong.airflow.batches import Batch
            from lienthong.airflow.tasks import deliver_step

            get_current_context()["batch_label"] = Batch.from_dict(batch).label  # type: ignore[typeddict-unknown-key]
            return deliver_step(
                name, batch, wait_for_retries=route.wait_for_retries, concurrency=route.concurrency
            )

        # A gap is a finding, not a transient failure (never retried); it runs after a failed deliver
        # so that the engine run is closed; it sends its own alert (one per DAG run).
        @task(task_id="reconcile", retries=0, trigger_rule="all_done", on_failure_callback=None)
        def reconcile() -> dict[str, Any]:
            from lienthong.airflow.tasks import UpstreamFailed, reconcile_step

            extracted = get_current_context()["ti"].xcom_pull(task_ids="extract")
            if not extracted:
                # The DAG run's state is its leaf's: failing here keeps it red (extract alerted already).
                raise UpstreamFailed("extract failed (its task alerted); the engine run is closed as failed")
            return reconcile_step(name, extracted["run_id"], extracted["started_at"])

        extracted = extract()
        delivered = deliver.expand(batch=transform(extracted))
        closing = reconcile()
        [extracted, delivered] >> closing

    return route_dag()


def build_dags(base: Path | None = None) -> dict[str, DAG]:
    """Every route's DAG, by DAG id (= route name)."""
    return {route.route: build_route_dag(route) for route in read_routes(base)}
