"""The work of each DAG task, as plain functions of the engine: testable without Airflow.

One DAG run of a route is one engine run (a ``runs`` row of kind ``airflow``): ``extract`` opens it,
``transform`` moves it to ``delivering`` once every staged version is mapped, ``reconcile`` closes it
with the reconciliation of the records pulled since ``extract`` started.  Every task is idempotent —
the store is what makes it so: a pulled page is staged once (content hash), a staged version is mapped
once (its state), an outbox row is sent under a lease and acknowledged once — so an Airflow retry of a
whole task has no duplicate effect.  Tasks hand each other ids and counts only (XCom), never payloads.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import update

from lienthong.airflow import settings as dag_settings
from lienthong.airflow.batches import Batch, left_in, plan_route
from lienthong.clock import utcnow
from lienthong.masking import install_log_masking
from lienthong.pipeline.runner import Gateway
from lienthong.settings import Settings
from lienthong.store.models import Run

log = logging.getLogger(__name__)

RUN_KIND = "airflow"


class ReconciliationGap(Exception):
    """Records pulled in the run's interval are in no known state: something was lost (alert)."""


def open_gateway() -> Gateway:
    """The engine, configured from the environment (``LIENTHONG_DATABASE_URL``: PostgreSQL under
    Airflow's executors; connections ``AIRFLOW_CONN_*`` or Airflow's own), mappings as the DAGs see them."""
    install_log_masking()
    env = Settings.from_env()
    return Gateway(Settings(env.data_dir, env.database_url, dag_settings.mappings_dir()))


# --- the engine run a DAG run is --------------------------------------------------------------
def _start_run(gateway: Gateway, route: str, actor: str) -> int:
    with gateway.store.session() as session:
        run = Run(
            route=route, kind=RUN_KIND, actor=actor[:100], started_at=utcnow(), status="running", counts="{}"
        )
        session.add(run)
        session.flush()
        return run.id


def _set_run(
    gateway: Gateway, run_id: int, status: str, *, counts: Any = None, error: str | None = None
) -> None:
    values: dict[str, Any] = {"status": status}
    if counts is not None:
        values["counts"] = json.dumps(counts, ensure_ascii=False, default=str)
    if error is not None:
        values["error"] = error
    if status in ("succeeded", "failed"):
        values["finished_at"] = utcnow()
    with gateway.store.session() as session:
        session.execute(update(Run).where(Run.id == run_id).values(**values))


def _failed(gateway: Gateway, run_id: int, task: str, exc: BaseException) -> None:
    _set_run(gateway, run_id, "failed", error=f"{task}: {type(exc).__name__}: {exc}")


# --- extract ------------------------------------------------------------------------------------
def extract_step(route_name: str, actor: str = "airflow", gateway: Gateway | None = None) -> dict[str, Any]:
    """Pull what changed since the route's watermark and stage it (the watermark moves per page)."""
    gateway = gateway or open_gateway()
    started = utcnow()
    run_id = _start_run(gateway, route_name, actor)
    try:
        route = gateway.route(route_name)
        result = gateway.pull(route, route.compile(), run_id)
    except Exception as exc:
        _failed(gateway, run_id, "extract", exc)
        raise
    log.info(
        "route %s run %s: pulled %d records in %d pages, %d new versions, %d unchanged; watermark %s",
        route_name, run_id, result.pulled, result.pages, result.staged, result.unchanged, result.watermark,
    )  # fmt: skip
    return {
        "run_id": run_id,
        "started_at": started.isoformat(),
        "pulled": result.pulled,
        "staged": result.staged,
        "unchanged": result.unchanged,
        "tombstones": result.tombstones,
        "pages": result.pages,
        "watermark": result.watermark,
        "skipped": result.skipped,
    }


# --- transform ----------------------------------------------------------------------------------
def transform_step(
    route_name: str,
    run_id: int,
    batch_size: int,
    max_batches: int | None = None,
    gateway: Gateway | None = None,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Map every staged version of the route into the outbox, then plan the delivery batches."""
    from lienthong.pipeline.transform import transform

    gateway = gateway or open_gateway()
    try:
        route = gateway.route(route_name)
        result = transform(gateway.store, route, route.compile(), gateway.target_specs_for(route), run_id)
        _set_run(gateway, run_id, "delivering")  # nothing staged is waiting for this run any more
        batches = plan_route(gateway.store, route.name, batch_size, max_batches)
    except Exception as exc:
        _failed(gateway, run_id, "transform", exc)
        raise
    for message in result.quarantine_messages[:20]:
        log.warning("quarantined: %s", message)
    log.info(
        "route %s run %s: mapped %d, quarantined %d, filtered %d, unchanged %d; %d outbox rows queued; "
        "%d delivery batches over %d live rows",
        route_name, run_id, result.mapped, result.quarantined, result.filtered, result.unchanged,
        result.rows_created, len(batches), sum(b.rows for b in batches),
    )  # fmt: skip
    counts = {
        "processed": result.processed,
        "mapped": result.mapped,
        "quarantined": result.quarantined,
        "filtered": result.filtered,
        "unchanged": result.unchanged,
        "rows_created": result.rows_created,
        "superseded": result.superseded,
        "review": result.review,
        "skipped": result.skipped,
        "batches": len(batches),
    }
    return counts, [batch.to_dict() for batch in batches]


# --- deliver ------------------------------------------------------------------------------------
def deliver_step(
    route_name: str,
    batch: dict[str, Any],
    *,
    wait_for_retries: float = 30.0,
    concurrency: int = 4,
    gateway: Gateway | None = None,
) -> dict[str, Any]:
    """Deliver the rows of one key range until nothing in it is claimable now: the engine retries in
    the call and waits for retries falling due within ``wait_for_retries`` seconds; rows scheduled
    later stay ``retry_scheduled`` for the next run and are reported, not failed."""
    from connectors.targets import open_target
    from lienthong.pipeline.deliver import Deliverer
    from lienthong.pipeline.transform import outputs_of

    gateway = gateway or open_gateway()
    part = Batch.from_dict(batch)
    route = gateway.route(route_name)
    specs = gateway.target_specs_for(route)
    operations = [(o.target, o.operation) for o in outputs_of(route, specs)]
    targets = {name: open_target(name, gateway.mappings_dir) for name in specs}
    try:
        deliverer = Deliverer(
            gateway.store, targets, route=route.name, concurrency=concurrency, key_range=part.key_range
        )
        result = deliverer.run(operations, wait_for_retries=wait_for_retries)
    finally:
        for target in targets.values():
            target.close()
    left = left_in(gateway.store, route.name, part.key_range)
    for error in result.last_errors:
        log.warning("delivery error: %s", error)
    for target, note in result.breakers.items():
        log.warning("target %s: %s", target, note)
    log.info(
        "route %s batch %s: %d calls, %d items sent; rows %s; left for the next run %s",
        route_name, part.label, result.calls, result.items_sent, dict(result.outcomes), left,
    )  # fmt: skip
    return {
        "batch": part.index,
        "calls": result.calls,
        "items_sent": result.items_sent,
        "resolved_by_lookup": result.resolved_by_lookup,
        "outcomes": dict(result.outcomes),
        "left": left,
        "breakers": sorted(result.breakers),
    }


def sum_deliveries(deliveries: Iterable[dict[str, Any]]) -> dict[str, Any]:
    total: Counter[str] = Counter()
    outcomes: Counter[str] = Counter()
    left: Counter[str] = Counter()
    batches = 0
    breakers: set[str] = set()
    for part in deliveries:
        batches += 1
        total.update({k: part.get(k, 0) for k in ("calls", "items_sent", "resolved_by_lookup")})
        outcomes.update(part.get("outcomes") or {})
        left.update({k: v for k, v in (part.get("left") or {}).items() if isinstance(v, int)})
        breakers.update(part.get("breakers") or [])
    return {
        "batches": batches,
        **total,
        "outcomes": dict(outcomes),
        "left": dict(left),
        "breakers": sorted(breakers),
    }


# --- reconcile ----------------------------------------------------------------------------------
def reconcile_step(
    route_name: str,
    run_id: int,
    started_at: str,
    deliveries: Iterable[dict[str, Any]] = (),
    gateway: Gateway | None = None,
    alert: Any = None,
) -> dict[str, Any]:
    """Account for every record version pulled since ``extract`` started.  Dead letters are reported
    (and alerted) but fail nothing; records in no known state fail the task, which alerts."""
    from lienthong.airflow.alerts import send_alert
    from lienthong.audit import hooks as audit_hooks
    from lienthong.reconcile import reconcile_interval

    gateway = gateway or open_gateway()
    alert = alert or send_alert
    delivered = sum_deliveries(deliveries)
    # Closed before counting: a "running" run makes still-staged versions count as awaiting mapping.
    _set_run(gateway, run_id, "reconciling")
    start, end = datetime.fromisoformat(started_at), utcnow()
    rec = reconcile_interval(gateway.store, route_name, start, end)
    report = {"run_id": run_id, "reconciliation": rec.to_dict(), "deliveries": delivered}
    log.info(
        "route %s run %s, pulled in [%s, %s): pulled %d = acknowledged %d + dead %d + pending %d + review %d "
        "+ superseded %d + quarantined %d + filtered %d + unchanged %d + awaiting mapping %d + missing %d; "
        "gap %d",
        route_name, run_id, rec.start, rec.end, rec.pulled, rec.acknowledged, rec.dead, rec.pending,
        rec.review, rec.superseded, rec.quarantined, rec.filtered, rec.unchanged, rec.awaiting_mapping,
        rec.missing, rec.gap,
    )  # fmt: skip
    if rec.dead:
        log.warning("route %s: %d record versions are dead letters (lienthong dead list --route %s)",
                    route_name, rec.dead, route_name)  # fmt: skip
        alert(
            {
                "event": "dead_letters",
                "route": route_name,
                "run_id": run_id,
                "dead": rec.dead,
                "hint": f"lienthong dead list --route {route_name}",
            }
        )
    if not rec.ok:
        message = (
            f"route {route_name} run {run_id}: {rec.missing} record versions pulled since {started_at} are in "
            f"no known state (first keys: {', '.join(rec.missing_keys)})"
        )
        _set_run(gateway, run_id, "failed", counts=report, error=message)
        audit_hooks.after_run(gateway.store)
        raise ReconciliationGap(message)
    _set_run(gateway, run_id, "succeeded", counts=report)
    audit_hooks.after_run(gateway.store)  # a signed checkpoint of the ledger's head, as `lienthong run`
    return report
