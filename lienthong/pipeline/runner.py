"""One run of a route: extract → transform → deliver, recorded in ``runs`` with a summary that adds up.

The summary speaks DESIGN.md's vocabulary.  Records: every pulled record is ``mapped``,
``quarantined``, ``filtered`` or ``unchanged`` (the same content, or the same payload, as before).
Outbox rows created by the run: each ends ``acknowledged``, ``retry_scheduled``, ``dead``,
``superseded``, ``review`` or still ``pending``; the sums are checked, not assumed.

The run's status is decided by :mod:`lienthong.outcomes` from what each target did, not from whether
an exception escaped: a target that had work and answered no call fails the run.  The run row records
its owner (``host:pid:``) and a lease renewed while it works, so a run whose process is killed is
found and closed as ``abandoned`` by the next process that opens the store; SIGINT/SIGTERM close it as
``interrupted`` before the process exits, handing back the rows it held.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy.exc import SQLAlchemyError

from connectors.motcua import MotcuaSource
from connectors.targets import Target, TargetSpec, load_spec, open_target
from lienthong import audit, phases
from lienthong import outcomes as run_outcomes
from lienthong.audit import hooks as audit_hooks
from lienthong.clock import utcnow
from lienthong.connections import get_connection
from lienthong.errors import ConfigError
from lienthong.mapping import load_route, load_routes
from lienthong.pipeline.deliver import Deliverer, DeliverResult
from lienthong.pipeline.extract import ExtractResult, extract
from lienthong.pipeline.transform import TransformResult, outputs_of, transform
from lienthong.settings import Settings
from lienthong.store import outbox
from lienthong.store.db import Store
from lienthong.store.leases import LeaseHeld
from lienthong.store.models import Run
from lienthong.store.runs import RUN_LEASE_SECONDS, RunLease, close_abandoned, live_by_target, release_held
from lienthong.store.staging import staged_count
from lienthong.workers import default_actor, process_owner_prefix, worker_id

log = logging.getLogger(__name__)


class Progress(Protocol):
    def phase(self, name: str, total: int | None) -> None: ...
    def advance(self, amount: int, total: int | None = None) -> None: ...


class _Silent:
    def phase(self, name: str, total: int | None) -> None:
        pass

    def advance(self, amount: int, total: int | None = None) -> None:
        pass


@dataclass
class RunSummary:
    route: str
    run_id: int
    status: str
    mapping_version: str
    seconds: float
    extract: ExtractResult
    transform: TransformResult
    deliver: DeliverResult
    rows: dict[str, int] = field(default_factory=dict)  # outbox rows created by this run, by state now
    backlog: dict[str, int] = field(default_factory=dict)  # all outbox rows of the route, by state now
    left_staged: int = 0  # staged versions of the route still waiting for a transform
    error: str | None = None
    #: Rows of this run still leased by this process when it ended (a leak); rows other live
    #: workers are delivering right now are theirs to finish, not a problem of this summary.
    in_flight_here: int = 0
    #: Why the status is not ``succeeded`` (lienthong.outcomes.Finding), in the order found.
    findings: list[run_outcomes.Finding] = field(default_factory=list)
    #: Rows an interrupted run handed back (they were in flight under this process).
    released: int = 0

    @property
    def carried_over(self) -> int:
        """Record versions this run mapped that an earlier run staged (it stopped before mapping them):
        why ``mapped`` can exceed ``pulled`` after a resumed run."""
        return max(0, self.transform.processed - self.extract.staged)

    def rates(self) -> dict[str, float]:
        """Records pulled, versions mapped and rows acknowledged per second of the whole run."""
        seconds = max(self.seconds, 1e-6)
        return {
            "records_per_second": round(self.extract.pulled / seconds, 1),
            "mapped_per_second": round(self.transform.processed / seconds, 1),
            "acknowledged_per_second": round(self.deliver.outcomes.get("acknowledged", 0) / seconds, 1),
        }

    @property
    def exit_code(self) -> int:
        return run_outcomes.exit_code(self.status, self.checks())

    def checks(self) -> list[str]:
        """What does not add up (empty when the run is fully accounted for)."""
        problems = []
        t = self.transform
        if self.extract.pulled != self.extract.staged + self.extract.unchanged:
            problems.append(
                f"pulled {self.extract.pulled} records but staged {self.extract.staged} "
                f"and found {self.extract.unchanged} unchanged"
            )
        if t.mapped + t.quarantined + t.filtered + t.unchanged != t.processed:
            problems.append(
                f"mapped {t.processed} record versions but only {t.mapped + t.quarantined + t.filtered + t.unchanged} "
                "ended mapped, quarantined, filtered or unchanged"
            )
        if self.left_staged and self.error is None and not (self.extract.skipped or self.transform.skipped):
            problems.append(f"{self.left_staged} staged record versions were not mapped")
        created = self.transform.rows_created
        if sum(self.rows.values()) != created:
            problems.append(f"created {created} outbox rows but {sum(self.rows.values())} are in a state")
        if self.in_flight_here:
            problems.append(f"{self.in_flight_here} rows are still in flight under this process")
        return problems

    def to_dict(self) -> dict[str, Any]:
        data = {
            "route": self.route,
            "run_id": self.run_id,
            "status": self.status,
            "mapping_version": self.mapping_version,
            "seconds": round(self.seconds, 3),
            "records": {
                "pulled": self.extract.pulled,
                "staged": self.extract.staged,
                "mapped": self.transform.mapped,
                "quarantined": self.transform.quarantined,
                "filtered": self.transform.filtered,
                "unchanged": self.transform.unchanged + self.extract.unchanged,
            },
            "outbox_rows_created": self.transform.rows_created,
            "outbox_rows": self.rows,
            "route_backlog": self.backlog,
            "deliveries": {
                "calls": self.deliver.calls,
                "items_sent": self.deliver.items_sent,
                "resolved_by_lookup": self.deliver.resolved_by_lookup,
                **dict(self.deliver.outcomes),
            },
            "tombstones": self.extract.tombstones,
            "watermark": self.extract.watermark,
            "pull_skipped": self.extract.skipped,
            "map_skipped": self.transform.skipped,
            "quarantine_messages": self.transform.quarantine_messages,
            "delivery_errors": self.deliver.last_errors,
            "breakers": self.deliver.breakers,
            "targets": {name: tally.to_dict() for name, tally in self.deliver.targets.items()},
            "config_faults": self.deliver.config_faults,
            "findings": [finding.to_dict() for finding in self.findings],
            "rates": self.rates(),
            "carried_over": self.carried_over,
            "released": self.released,
            "checks": self.checks(),
            "exit_code": self.exit_code,
        }
        if self.error:
            data["error"] = self.error
        return data


class Gateway:
    """The engine as the CLI, the demo and the Airflow tasks use it."""

    def __init__(self, settings: Settings | None = None, store: Store | None = None) -> None:
        phases.report(phases.START_UP)
        self.settings = settings or Settings.from_env()
        self.store = store or Store(self.settings.database_url)
        audit.attach(self.store, self.settings)  # the audit's switch, keys and checkpoint file
        self._target_specs: dict[str, TargetSpec] = {}
        #: Runs whose process died are closed by the next process that opens the store.
        self.abandoned: list[int] = []
        try:
            self.abandoned = close_abandoned(self.store)
        except SQLAlchemyError as exc:  # a read-only role (an auditor's reader) still opens the store
            log.warning("abandoned runs not checked: %s", type(exc).__name__)

    @property
    def mappings_dir(self) -> Path:
        return self.settings.mappings_dir

    def routes(self) -> dict[str, Any]:
        return load_routes(self.mappings_dir)

    def route(self, name: str) -> Any:
        path = self.mappings_dir / f"{name}.yaml"
        if not path.is_file():
            known = ", ".join(sorted(self.routes())) or "none"
            raise ConfigError(f"no route {name!r} in {self.mappings_dir} (routes: {known})")
        return load_route(path, mappings_dir=self.mappings_dir)

    def target_spec(self, name: str) -> TargetSpec:
        if name not in self._target_specs:
            self._target_specs[name] = load_spec(name, self.mappings_dir)
        return self._target_specs[name]

    def target_specs_for(self, route: Any) -> dict[str, TargetSpec]:
        names = {route.raw["target"]["name"]} | {
            f["target"]["name"] for f in route.raw.get("followups") or []
        }
        return {name: self.target_spec(name) for name in names}

    def open_source(self, route: Any) -> MotcuaSource:
        source = route.raw["source"]
        return MotcuaSource(get_connection(source["connection"]), page_size=int(source.get("page_size", 100)))

    def pull(
        self,
        route: Any,
        compiled: Any,
        run_id: int,
        since: str | None = None,
        on_page: Callable[[int, int | None], None] | None = None,
    ) -> ExtractResult:
        """The extract phase of one run.  When another worker holds the route's pull, this one does
        not wait: it shares the mapping and delivery instead (the result says why it did not pull)."""
        source = self.open_source(route)
        try:
            return extract(
                self.store,
                route.name,
                compiled,
                source,
                route.raw["source"]["resource"],
                run_id,
                worker_id(),
                since,
                on_page=on_page,
            )
        except LeaseHeld as held:
            log.warning("route %s: not pulling (%s); mapping and delivering only", route.name, held)
            return ExtractResult(skipped=str(held))
        finally:
            source.close()

    def run(
        self,
        route_name: str,
        *,
        actor: str | None = None,
        since: str | None = None,
        concurrency: int = 4,
        progress: Progress | None = None,
        wait_for_retries: float = 30.0,
        deliver: bool = True,
        skip_extract: bool = False,
        kind: str | None = None,
    ) -> RunSummary:
        """Run a route once.  ``since`` makes it a resync of that window; ``skip_extract`` maps and
        delivers what is already staged (quarantine replay); ``deliver=False`` stops after mapping."""
        progress = progress or _Silent()
        route = self.route(route_name)
        compiled = route.compile()
        specs = self.target_specs_for(route)
        kind = kind or ("resync" if since else "run")
        run_id = self._start_run(route.name, kind, actor)
        started = time.monotonic()
        extracted, transformed, delivered = ExtractResult(), TransformResult(), DeliverResult()
        error: str | None = None
        interrupted: str | None = None
        targets: dict[str, Target] = {}
        lease = RunLease(self.store, run_id)
        lease.__enter__()
        failure: BaseException | None = None
        deliverer: Deliverer | None = None
        try:
            if not skip_extract:
                progress.phase("pull", None)
                phases.report(phases.PULL)
                extracted = self.pull(
                    route, compiled, run_id, since, on_page=lambda n, total: progress.advance(n, total)
                )
            progress.phase("map", extracted.staged)
            phases.report(phases.MAP)
            transformed = transform(self.store, route, compiled, specs, run_id, on_chunk=progress.advance)
            if deliver:
                operations = [(o.target, o.operation) for o in outputs_of(route, specs)]
                targets = {name: open_target(name, self.mappings_dir) for name in specs}
                progress.phase("deliver", transformed.rows_created or None)
                phases.report(phases.DELIVER)
                deliverer = Deliverer(
                    self.store, targets, route=route.name, concurrency=concurrency, on_rows=progress.advance
                )
                delivered = deliverer.run(operations, wait_for_retries=wait_for_retries)
        except KeyboardInterrupt as exc:  # SIGINT, or SIGTERM turned into it by the CLI
            failure = exc
            interrupted = f"interrupted ({getattr(exc, 'signal_name', None) or 'SIGINT'})"
            if deliverer is not None:
                delivered = deliverer.result
            log.warning("route %s run %s %s: closing the run", route.name, run_id, interrupted)
            raise
        except Exception as exc:
            failure = exc
            error = f"{type(exc).__name__}: {exc}"
            if deliverer is not None:
                delivered = deliverer.result
            log.error("route %s run %s failed: %s", route.name, run_id, error)
            raise
        finally:
            lease.__exit__(None, None, None)
            for target in targets.values():
                target.close()
            released = release_held(self.store, process_owner_prefix()) if interrupted else 0
            findings = []
            if delivered.targets:
                findings = run_outcomes.assess(delivered.targets, live_by_target(self.store, route.name))
            verdict = run_outcomes.decide(findings, error=error, interrupted=interrupted)
            summary = RunSummary(
                route=route.name,
                run_id=run_id,
                status=verdict.status,
                mapping_version=compiled.version,
                seconds=time.monotonic() - started,
                extract=extracted,
                transform=transformed,
                deliver=delivered,
                rows=outbox.state_counts(self.store, run_id=run_id),
                backlog=outbox.state_counts(self.store, route=route.name),
                left_staged=staged_count(self.store, route.name),
                error=error,
                in_flight_here=outbox.in_flight_under(self.store, process_owner_prefix(), run_id=run_id),
                findings=verdict.findings,
                released=released,
            )
            if summary.error is None and verdict.status != run_outcomes.SUCCEEDED:
                summary.error = verdict.message
            self._finish_run(run_id, summary)
            audit_hooks.after_run(self.store)  # a signed checkpoint of the ledger's head
            if failure is not None:
                failure.run_summary = summary  # type: ignore[attr-defined]  # the CLI prints it
            if verdict.status != run_outcomes.SUCCEEDED:
                log.warning("route %s run %s %s: %s", route.name, run_id, verdict.status, verdict.message)
            phases.report(phases.DONE)
        return summary

    def _start_run(self, route: str, kind: str, actor: str | None) -> int:
        with self.store.session() as session:
            run = Run(
                route=route,
                kind=kind,
                actor=actor or default_actor(),
                started_at=utcnow(),
                status=run_outcomes.RUNNING,
                counts="{}",
                owner=process_owner_prefix(),
                lease_expires_at=utcnow() + timedelta(seconds=RUN_LEASE_SECONDS),
            )
            session.add(run)
            session.flush()
            return run.id

    def _finish_run(self, run_id: int, summary: RunSummary) -> None:
        with self.store.session() as session:
            run = session.get(Run, run_id)
            run.finished_at = utcnow()
            run.status = summary.status
            run.error = summary.error
            run.counts = json.dumps(summary.to_dict(), ensure_ascii=False, default=str)


__all__ = ["Gateway", "RunSummary"]
