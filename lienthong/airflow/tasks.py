"""The work of each DAG task, as plain functions of the engine: testable without Airflow.

One DAG run of a route is one engine run (a ``runs`` row of kind ``airflow``, owner
``airflow:<dag run id>``): ``extract`` opens it, ``transform`` moves it to ``delivering`` once every
staged version is mapped, each ``deliver`` task records its batch's result on it, and ``reconcile``
(which runs even after a failed deliver: ``trigger_rule="all_done"``) closes it with the figures of
the records **this run** pulled (``staged_records.run_id``), never of what other processes pulled in
the same minutes.  The status is :mod:`lienthong.outcomes`' vocabulary; a deliver task whose target
had work and answered no call fails (Airflow retries it), and ``reconcile`` fails, with one alert for
the DAG run, when the run left a gap it could not settle: a target down, a configuration fault,
records in no known state or new dead letters (quarantined records are reported, not failed).

Every task is idempotent — the store is what makes it so: a pulled page is staged once (content
hash), a staged version is mapped once (its state), an outbox row is sent under a lease and
acknowledged once — so an Airflow retry of a whole task has no duplicate effect.  Tasks hand each other ids and counts only (XCom), never payloads.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select, update

from lienthong import outcomes
from lienthong.airflow import settings as dag_settings
from lienthong.airflow.batches import Batch, left_in, plan_route
from lienthong.clock import utcnow
from lienthong.masking import install_log_masking, mask_text
from lienthong.pipeline.runner import Gateway
from lienthong.settings import Settings
from lienthong.store.models import Run
from lienthong.store.runs import close_earlier_dag_runs, live_by_target, run_figures

log = logging.getLogger(__name__)

RUN_KIND = "airflow"


class ReconciliationGap(Exception):
    """The run left a gap it could not settle (a target down, a configuration fault, records in no
    known state, new dead letters): the reconcile task fails and alerts once."""


class UpstreamFailed(Exception):
    """``extract`` or ``transform`` failed (and alerted through its own task): ``reconcile`` closes
    the engine run and fails too, since a DAG run's state is the state of its last task."""


class DeliveryFailed(Exception):
    """A deliver task's target had work and answered no call (or a configuration fault stopped it):
    the task fails so that Airflow retries it; ``reconcile`` reports it."""


def open_gateway() -> Gateway:
    """The engine, configured from the environment (``LIENTHONG_DATABASE_URL``: PostgreSQL under
    Airflow's executors; connections ``AIRFLOW_CONN_*`` or Airflow's own), mappings as the DAGs see them."""
    install_log_masking()
    env = Settings.from_env()
    return Gateway(Settings(env.data_dir, env.database_url, dag_settings.mappings_dir()))


# --- the engine run a DAG run is --------------------------------------------------------------
def _start_run(gateway: Gateway, route: str, actor: str) -> int:
    owner = actor if actor.startswith("airflow:") else f"airflow:{actor}"
    with gateway.store.session() as session:
        run = Run(
            route=route,
            kind=RUN_KIND,
            actor=actor[:100],
            started_at=utcnow(),
            status=outcomes.RUNNING,
            counts="{}",
            owner=owner[:250],  # tracked by its DAG run, never by a pid (lienthong.store.runs)
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
    if status in outcomes.CLOSED_STATUSES:
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
    closed = close_earlier_dag_runs(gateway.store, route_name, run_id)
    if closed:
        log.warning("route %s: earlier DAG runs %s were never closed: marked abandoned", route_name, closed)
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
        _set_run(gateway, run_id, outcomes.DELIVERING)  # nothing staged is waiting for this run any more
        batches = plan_route(gateway.store, route.name, batch_size, max_batches)
    except Exception as exc:
        _failed(gateway, run_id, "transform", exc)
        raise
    # Each quarantined record was logged once by the transform ("quarantined: ..."): not again here.
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
    return counts, [{**batch.to_dict(), "run_id": run_id} for batch in batches]


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
    for error, times in Counter(result.last_errors).items():  # one line per distinct error
        log.warning("delivery error%s: %s", f" (×{times})" if times > 1 else "", error)
    for target, note in result.breakers.items():
        log.warning("target %s: %s", target, note)
    log.info(
        "route %s batch %s: %d calls, %d items sent; rows %s; left for the next run %s",
        route_name, part.label, result.calls, result.items_sent, dict(result.outcomes), left,
    )  # fmt: skip
    findings = outcomes.assess(result.targets, live_by_target(gateway.store, route.name, part.key_range))
    failed = [f for f in findings if f.status == outcomes.FAILED]
    report = {
        "batch": part.index,
        "calls": result.calls,
        "items_sent": result.items_sent,
        "resolved_by_lookup": result.resolved_by_lookup,
        "outcomes": dict(result.outcomes),
        "left": left,
        "breakers": sorted(result.breakers),
        "findings": [f.to_dict() for f in findings],
    }
    run_id = batch.get("run_id")
    if run_id is not None:
        _note_batch(gateway, int(run_id), part.index, report)
    if failed:
        message = "; ".join(str(f) for f in failed)
        log.error("route %s batch %s failed: %s", route_name, part.label, message)
        raise DeliveryFailed(f"route {route_name} batch {part.label}: {message}")
    return report


def _note_batch(gateway: Gateway, run_id: int, index: int, report: dict[str, Any]) -> None:
    """A deliver task's result on the engine run (under a row lock: mapped tasks run in parallel),
    so that ``reconcile`` sees failed batches too (a failed task hands no XCom on)."""
    with gateway.store.session() as session:
        run = session.execute(select(Run).where(Run.id == run_id).with_for_update()).scalar_one()
        counts = json.loads(run.counts or "{}")
        counts.setdefault("batches", {})[str(index)] = report
        run.counts = json.dumps(counts, ensure_ascii=False, default=str)


def _batches_of(gateway: Gateway, run_id: int) -> list[dict[str, Any]]:
    with gateway.store.session() as session:
        run = session.get(Run, run_id)
        counts = json.loads((run.counts if run else None) or "{}")
    return list((counts.get("batches") or {}).values())


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
#: Earlier DAG runs of the route whose figures a reconcile brings up to date (the newest first).
EARLIER_RUNS = 20


def reconcile_step(
    route_name: str,
    run_id: int,
    started_at: str | None = None,  # kept for callers of the interval version; the run id scopes now
    deliveries: Iterable[dict[str, Any]] = (),
    gateway: Gateway | None = None,
    alert: Any = None,
) -> dict[str, Any]:
    """Close the engine run with the figures of the records it pulled, and decide its status.

    Fails (one alert for the DAG run) when the run left a gap it could not settle: a deliver batch
    whose target was down or misconfigured, records in no known state, or rows the targets refused for
    good in this run.  Quarantined records and rows waiting behind a breaker that opened are reported,
    not failed.  Earlier runs' figures are recomputed too: what this run settled shows there."""
    from lienthong.airflow.alerts import send_alert
    from lienthong.audit import hooks as audit_hooks

    gateway = gateway or open_gateway()
    alert = alert or send_alert
    with gateway.store.session() as session:
        before = session.get(Run, run_id)
        already_failed = before is not None and before.status == outcomes.FAILED
    _set_run(gateway, run_id, outcomes.RECONCILING)  # mapping is over: staged means lost, not awaited
    batches = _batches_of(gateway, run_id) or list(deliveries)
    delivered = sum_deliveries(batches)
    rec = run_figures(gateway.store, route_name, run_id)
    findings = [f for part in batches for f in part.get("findings") or []]
    failed = _unique(f["message"] for f in findings if f["status"] == outcomes.FAILED)
    waiting = _unique(
        f["message"] for f in findings if f["status"] == outcomes.PARTIAL and "dead" not in f["reason"]
    )
    new_dead = int(delivered["outcomes"].get("dead", 0))
    reasons = list(failed)
    if rec.missing:
        reasons.append(
            f"{rec.missing} record versions pulled by this run are in no known state "
            f"(first keys: {', '.join(rec.missing_keys)})"
        )
    if new_dead:
        reasons.append(
            f"{new_dead} rows refused for good by the target in this run (dead letters): "
            f"lienthong dead list --route {route_name}"
        )
    status = outcomes.FAILED if (failed or rec.missing or already_failed) else outcomes.SUCCEEDED
    if status == outcomes.SUCCEEDED and (new_dead or waiting):
        status = outcomes.PARTIAL
    updated = _update_earlier(gateway, route_name, run_id)
    report = {
        "run_id": run_id,
        "status": status,
        "reconciliation": rec.to_dict(),
        "deliveries": delivered,
        "reasons": reasons,
        "waiting": waiting,
        "updated_runs": updated,
    }
    log.info(
        "route %s run %s, records this run pulled: pulled %d = acknowledged %d + dead %d + pending %d + "
        "review %d + superseded %d + quarantined %d + filtered %d + unchanged %d + missing %d; gap %d",
        route_name, run_id, rec.pulled, rec.acknowledged, rec.dead, rec.pending, rec.review,
        rec.superseded, rec.quarantined, rec.filtered, rec.unchanged, rec.missing, rec.gap,
    )  # fmt: skip
    for note in waiting:
        log.warning("route %s run %s: %s", route_name, run_id, note)
    if updated:
        log.info("route %s: figures of earlier runs %s brought up to date", route_name, updated)
    if already_failed:
        # extract or transform failed and alerted through their own task: close with the figures, no
        # second alert, and fail (the DAG run's state is this last task's).
        _set_run(gateway, run_id, outcomes.FAILED, counts=report)
        audit_hooks.after_run(gateway.store)
        raise UpstreamFailed(f"route {route_name} run {run_id}: {before.error or 'an upstream task failed'}")
    if reasons:
        message = f"route {route_name} run {run_id} {status}: " + "; ".join(reasons)
        _set_run(gateway, run_id, status, counts=report, error=message)
        audit_hooks.after_run(gateway.store)
        alert(
            {
                "event": "run_failed",
                "route": route_name,
                "run_id": run_id,
                "status": status,
                "reasons": [mask_text(reason)[:300] for reason in reasons],
                "pending": rec.pending,
                "dead": new_dead,
                "missing": rec.missing,
            }
        )
        raise ReconciliationGap(message)
    _set_run(gateway, run_id, status, counts=report)
    audit_hooks.after_run(gateway.store)  # a signed checkpoint of the ledger's head, as `lienthong run`
    return report


def _unique(messages: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(messages))


def _update_earlier(gateway: Gateway, route: str, run_id: int) -> list[int]:
    """Recompute the figures of earlier DAG runs of the route that left records unsettled (pending,
    dead, missing); a run that settled them shows there, with who settled them."""
    with gateway.store.session() as session:
        earlier = (
            session.execute(
                select(Run)
                .where(Run.route == route, Run.kind == RUN_KIND, Run.id < run_id)
                .where(Run.status.in_(outcomes.CLOSED_STATUSES))
                .order_by(Run.id.desc())
                .limit(EARLIER_RUNS)
            )
            .scalars()
            .all()
        )
        pairs = [(run.id, json.loads(run.counts or "{}")) for run in earlier]
    updated = []
    for earlier_id, counts in pairs:
        old = counts.get("reconciliation") or {}
        if not (old.get("pending") or old.get("dead") or old.get("missing")):
            continue
        new = run_figures(gateway.store, route, earlier_id).to_dict()
        if all(new.get(k) == old.get(k) for k in ("acknowledged", "dead", "pending", "missing", "review")):
            continue
        counts["reconciliation"] = new
        counts["updated_by"] = {"run_id": run_id, "at": utcnow().isoformat(timespec="seconds")}
        with gateway.store.session() as session:  # its status and times stay: they are history
            session.execute(
                update(Run)
                .where(Run.id == earlier_id)
                .values(counts=json.dumps(counts, ensure_ascii=False, default=str))
            )
        updated.append(earlier_id)
    return updated
