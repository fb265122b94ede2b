"""Deliver: workers claim outbox rows in batches, send them, and record each row's outcome.

Several threads (and, on PostgreSQL, several processes) share the work through the outbox's
claims; the retry policy of the target decides between retrying in the call, scheduling a later
attempt (``retry_scheduled``) and giving up (``dead``).  A row is never left ``in_flight`` by a
worker that is still alive: whatever happens in the call, its outcome or its release is written.

Before every call the target's guard (circuit breaker, rate limit; shared by all workers through the
store) is asked.  A write whose answer was lost (timeout, dropped connection) is resolved before it
is sent again: where the target can be asked (the portal's ``TraCuuHoSo``) the gateway looks first,
and acknowledges the row without a second write when the target already holds exactly that payload.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from sqlalchemy import select

from connectors.retry import RetryPolicy
from connectors.targets import Delivery, ItemResult, Target
from lienthong import outcomes as run_outcomes
from lienthong import states
from lienthong.audit import hooks as audit_hooks
from lienthong.audit import integrity as audit_integrity
from lienthong.clock import utcnow
from lienthong.errors import CredentialsRefused, FatalError, RetriableError, StopRun
from lienthong.jsoncanon import canonical
from lienthong.pipeline.config_faults import DEFAULT_THRESHOLD, StreakWatch, hold_dead
from lienthong.store import outbox
from lienthong.store.db import Store
from lienthong.store.models import OutboxRow
from lienthong.store.outbox import OUTCOME_UNKNOWN
from lienthong.store.protection import TargetGuard
from lienthong.workers import lease_seconds, worker_id

log = logging.getLogger(__name__)


class BreakerOpen(Exception):
    def __init__(self, target: str, until: datetime | None) -> None:
        self.target = target
        self.until = until
        # "until" only for a time still ahead: a past one (the probe is due) reads as a lie in a log.
        super().__init__(
            f"circuit open for {target} until {until:%H:%M:%S} UTC"
            if until is not None and until > utcnow()
            else f"circuit open for {target} (a probe call is due)"
        )


@dataclass
class DeliverResult:
    outcomes: Counter[str] = field(default_factory=Counter)  # state → rows
    calls: int = 0
    items_sent: int = 0
    resolved_by_lookup: int = 0
    last_errors: list[str] = field(default_factory=list)
    breakers: dict[str, str] = field(default_factory=dict)  # target → what happened to its breaker
    #: target → what it did (calls answered or failed, why, rows tried): what the run's status is
    #: decided from (lienthong.outcomes).
    targets: dict[str, run_outcomes.TargetTally] = field(default_factory=dict)
    config_faults: list[str] = field(default_factory=list)

    def add(self, state: str, error: str | None) -> None:
        self.outcomes[state] += 1
        if error and state in (states.DEAD, states.RETRY_SCHEDULED) and len(self.last_errors) < 20:
            self.last_errors.append(error)


class Deliverer:
    def __init__(
        self,
        store: Store,
        targets: dict[str, Target],
        *,
        route: str | None = None,
        concurrency: int = 4,
        on_rows: Callable[[int], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        key_range: outbox.KeyRange | None = None,
    ) -> None:
        self.store = store
        self.targets = targets
        self.route = route
        self.key_range = key_range  # one batch of the route (an Airflow deliver task); None: all of it
        self.concurrency = max(1, concurrency)
        self.on_rows = on_rows
        self.sleep = sleep
        self.result = DeliverResult()
        self.lease_seconds = lease_seconds("deliver")
        self.guards = {
            name: TargetGuard(store, name, target.spec.breaker, target.spec.rate_limit)
            for name, target in targets.items()
        }
        self._lock = threading.Lock()
        self._opened: set[str] = set()
        #: Set on an interrupt: workers finish the batch in hand and claim no more.
        self.stop = threading.Event()
        self.result.targets = {
            name: run_outcomes.TargetTally(name, run_outcomes.endpoint_of(target.connection.base_url))
            for name, target in targets.items()
        }
        self.streaks = StreakWatch(
            {
                name: int(target.spec.raw.get("config_fault_threshold", DEFAULT_THRESHOLD))
                for name, target in targets.items()
            }
        )

    def policy(self, target: str) -> RetryPolicy:
        return self.targets[target].spec.retry

    # --- the loop ------------------------------------------------------------------------------
    def run(self, operations: list[tuple[str, str]], wait_for_retries: float = 0.0) -> DeliverResult:
        """Deliver until nothing is claimable; then wait for retries (or a breaker's probe) falling due
        within ``wait_for_retries`` seconds, and stop, leaving later ones scheduled."""
        deadline = time.monotonic() + wait_for_retries
        recovered = outbox.recover_orphans(self.store)
        if recovered:
            log.warning("recovered %d rows left in flight by workers of this host that died", recovered)
        while True:
            for target, operation in operations:
                self._drain(target, operation)
            if self.stop.is_set():
                return self._finish()
            due = self._next_due(operations)
            wait = (due - utcnow()).total_seconds() if due is not None else 0.0
            if due is None or time.monotonic() + max(0.0, wait) > deadline:
                return self._finish()
            self.sleep(max(0.05, wait))

    def _finish(self) -> DeliverResult:
        self._hold_streaks()
        self._report_breakers()
        return self.result

    def _hold_streaks(self) -> None:
        """Rows of a tripped configuration-fault streak that were written ``dead`` (before it tripped,
        or by a thread that answered meanwhile) go back to ``pending``: not the records' fault."""
        for target, row_ids in self.streaks.held.items():
            held = hold_dead(self.store, sorted(row_ids), self.streaks.tripped[target])
            if held:
                self.result.targets[target].dead -= held
                self.result.outcomes[states.DEAD] -= held
                self.result.outcomes[states.PENDING] += held

    def _next_due(self, operations: list[tuple[str, str]]) -> datetime | None:
        candidates = [outbox.next_retry_at(self.store, operations, self.route, self.key_range)]
        live = outbox.state_counts(self.store, route=self.route)
        if live[states.PENDING]:
            candidates += [self.guards[t].blocked_until() for t in {t for t, _ in operations}]
        present = [c for c in candidates if c is not None]
        return min(present) if present else None

    def _drain(self, target: str, operation: str) -> None:
        failures: list[BaseException] = []

        def work() -> None:
            try:
                self._work(target, operation)
            except BaseException as exc:  # noqa: BLE001 - handed to the caller below
                failures.append(exc)

        workers = [
            threading.Thread(target=work, name=f"deliver-{target}-{i}", daemon=True)
            for i in range(self.concurrency)
        ]
        for worker in workers:
            worker.start()
        try:
            for worker in workers:
                worker.join()
        except BaseException:
            # SIGINT/SIGTERM in the main thread: the workers finish the batch in hand (its outcome is
            # written) and claim no more; the caller then closes the run as interrupted.
            self.stop.set()
            for worker in workers:
                worker.join(timeout=self.lease_seconds)
            raise
        if failures:
            raise failures[0]  # the run ends failed, with the cause, instead of rows silently pending

    def _work(self, target: str, operation: str) -> None:
        owner = worker_id()
        guard = self.guards[target]
        batch_size = self.targets[target].operation(operation).batch_size
        while True:
            if self.stop.is_set() or self.streaks.stopped(target):
                return  # interrupted, or a configuration fault stopped this target
            until = guard.blocked_until()
            if until is not None:
                if not guard.probing():
                    self.result.targets[target].breaker_blocked = True
                    return  # open: leave the rows waiting; the run reports the breaker
                self.sleep(0.2)  # another worker's probe is under way: its answer decides
                continue
            rows = outbox.claim(
                self.store, target, operation, owner, batch_size, self.lease_seconds, self.route, self.key_range
            )
            if not rows:
                return
            try:
                self.deliver_batch(target, operation, rows, owner)
            except Exception:
                # Never leave rows in flight behind a live worker: hand them back, then fail loudly.
                outbox.release(self.store, owner, [row.id for row in rows])
                raise

    def _note_breaker(self, target: str, message: str) -> None:
        with self._lock:
            self._opened.add(target)

    def _report_breakers(self) -> None:
        """What the operator must know at the end of the run: a breaker still open, or one that
        opened and closed again."""
        for target, guard in self.guards.items():
            state = guard.state()
            if state["breaker"] != "closed":
                probe = state.get("probe_at")
                self.result.breakers[target] = (
                    f"circuit {state['breaker'].replace('_', '-')} after {state['failures']} consecutive failed calls "
                    f"(last: {state.get('last_error')}); "
                    + (
                        f"next probe at {probe:%Y-%m-%d %H:%M:%S} UTC"
                        if probe > utcnow()
                        else "a probe call is due"
                    )
                    + "; rows wait, nothing is lost"
                    if probe
                    else ""
                )
            elif target in self._opened:
                self.result.breakers[target] = (
                    "circuit opened during the run and closed again after a successful probe"
                )

    # --- one batch -----------------------------------------------------------------------------
    def deliver_batch(self, target_name: str, operation: str, rows: list[OutboxRow], owner: str) -> None:
        rows, refused = audit_integrity.screen(self.store, rows, owner)  # not the certified payload: review
        with self._lock:
            for outcome in refused:
                self.result.add(outcome.state, outcome.error)
        if not rows:
            return
        target = self.targets[target_name]
        policy = self.policy(target_name)
        guard = self.guards[target_name]
        op_spec = target.operation(operation)
        # Create-or-update is only a question for operations that have the two modes.
        updates = (
            self._acknowledged_keys(target_name, operation, [row.record_key for row in rows])
            if op_spec.create or op_spec.update
            else set()
        )
        pending = {
            row.id: Delivery(row.id, row.record_key, json.loads(row.payload), row.record_key in updates)
            for row in rows
        }
        unknown = {row.id for row in rows if (row.last_error or "").startswith(OUTCOME_UNKNOWN)}
        settled: dict[int, ItemResult] = {}
        calls = 0

        tally = self.result.targets[target_name]

        def attempt() -> None:
            nonlocal calls
            try:
                self._wait_for_permit(guard, owner)
            except BreakerOpen as exc:
                with self._lock:
                    tally.breaker_blocked = True
                    if tally.last_failure is None:  # keep the cause that opened it, if this run saw it
                        tally.last_failure, tally.last_error = run_outcomes.BREAKER_OPEN, str(exc)
                raise
            calls += 1
            try:
                if unknown:
                    self._resolve_unknown(target, operation, pending, unknown, settled)
                    unknown.clear()
                deliveries = [d for row_id, d in pending.items() if row_id not in settled]
                results = target.send(operation, deliveries) if deliveries else []
            except RetriableError as exc:
                if getattr(exc, "outcome_unknown", False):
                    unknown.update(d.row_id for d in pending.values() if d.row_id not in settled)
                with self._lock:
                    tally.failed(_failure_reason(exc), str(exc))
                if guard.failed(str(exc)):
                    self._note_breaker(target_name, "circuit opened")
                raise
            except StopRun as exc:
                with self._lock:
                    reason = (
                        run_outcomes.CREDENTIALS_REFUSED
                        if isinstance(exc, CredentialsRefused)
                        else run_outcomes.CONFIGURATION
                    )
                    tally.failed(reason, str(exc))
                guard.failed(str(exc))
                raise
            except FatalError:
                with self._lock:
                    tally.answered += 1  # a refusal is an answer: the target is there
                raise
            with self._lock:
                tally.answered += 1
            guard.succeeded()
            settled.update((result.row_id, result) for result in results)

        outcomes: list[outbox.Outcome]
        started = time.monotonic()
        try:
            policy.call(attempt, sleep=self.sleep)
            outcomes = [self._outcome(row, settled[row.id], calls, policy) for row in rows]
        except BreakerOpen as exc:
            outcomes = [
                self._settled_or(row, settled, calls, policy)
                or outbox.Outcome(
                    row.id, states.RETRY_SCHEDULED, attempts=calls, error=str(exc), next_attempt_at=exc.until
                )
                for row in rows
            ]
        except RetriableError as exc:
            prefix = OUTCOME_UNKNOWN if unknown else ""
            outcomes = [
                self._settled_or(row, settled, calls, policy)
                or self._retry_or_dead(
                    row,
                    calls,
                    policy,
                    prefix + str(exc),
                    exc.next_delay,  # type: ignore[attr-defined]
                )
                for row in rows
            ]
        except StopRun:
            # Not the records' fault: give every row back untouched and fail the run loudly.
            outbox.release(self.store, owner, [row.id for row in rows])
            raise
        except FatalError as exc:
            outcomes = [
                self._settled_or(row, settled, calls, policy)
                or outbox.Outcome(row.id, states.DEAD, attempts=calls, error=str(exc))
                for row in rows
            ]
        millis = (time.monotonic() - started) * 1000
        self._watch_streak(target_name, operation, rows, outcomes, settled)
        audit = audit_hooks.DeliveryAudit(self.store, rows, outcomes, owner, calls, millis)  # seals answers
        outbox.record_outcomes(self.store, owner, outcomes, audit)
        audit_hooks.after_batch(self.store, audit)  # a checkpoint every N entries / T seconds
        with self._lock:
            tally.rows += len(rows)
            tally.dead += sum(1 for outcome in outcomes if outcome.state == states.DEAD)
            self.result.calls += calls
            if calls:  # rows a breaker or a stop kept back were not sent ("0 calls, 80 items sent" lied)
                self.result.items_sent += sum(row.item_count for row in rows)
            self.result.resolved_by_lookup += sum(
                1 for r in settled.values() if r.response and r.response.get("resolved_by") == "lookup"
            )
            for outcome in outcomes:
                self.result.add(outcome.state, outcome.error)
        if self.on_rows:
            self.on_rows(len(rows))

    def _watch_streak(
        self,
        target: str,
        operation: str,
        rows: list[OutboxRow],
        outcomes: list[outbox.Outcome],
        settled: dict[int, ItemResult],
    ) -> None:
        """The configuration-fault watch sees the batch's verdicts; when a streak trips, this batch's
        refused rows stay ``pending`` (rewritten in ``outcomes`` before they are recorded)."""
        fault = self.streaks.observe_batch(target, operation, rows, outcomes, settled)
        if fault is None:
            return
        with self._lock:
            self.result.targets[target].config_fault = str(fault)
            if str(fault) not in self.result.config_faults:
                self.result.config_faults.append(str(fault))
                log.error("route %s: stopped sending to %s: %s", self.route, target, fault)

    def _wait_for_permit(self, guard: TargetGuard, owner: str) -> None:
        waited = 0.0
        while True:
            permit = guard.permit(owner)
            if permit.allowed:
                return
            if permit.blocked_until is not None:
                raise BreakerOpen(guard.target, permit.blocked_until)
            step = min(permit.wait, 1.0)
            waited += step
            if waited > self.lease_seconds / 2:
                raise BreakerOpen(guard.target, utcnow() + timedelta(seconds=permit.wait))
            self.sleep(step)

    def _resolve_unknown(
        self,
        target: Target,
        operation: str,
        pending: dict[int, Delivery],
        unknown: set[int],
        settled: dict[int, ItemResult],
    ) -> None:
        """Ask the target what it holds for writes whose answer was lost, before writing again."""
        if not target.can_lookup(operation):
            return
        for row_id in sorted(unknown):
            delivery = pending[row_id]
            if row_id in settled:
                continue
            try:
                held = target.lookup(delivery.record_key)
            except RetriableError:
                # Cannot ask now: send it anyway. A create of a dossier the portal already holds is
                # answered "exists" and resent as an update of the same content: no new effect.
                continue
            if held is None:
                continue  # not there: the lost write did not take effect; send it
            if canonical(held) == canonical(delivery.payload):
                settled[row_id] = ItemResult(row_id, ok=True, response={"resolved_by": "lookup"})
            else:
                pending[row_id] = replace(delivery, update=True)  # there, but an older version: update it

    def _settled_or(self, row: OutboxRow, settled: dict[int, ItemResult], calls: int, policy: RetryPolicy):  # noqa: ANN202
        result = settled.get(row.id)
        return self._outcome(row, result, calls, policy) if result is not None else None

    def _outcome(self, row: OutboxRow, result: ItemResult, calls: int, policy: RetryPolicy) -> outbox.Outcome:
        response = json.dumps(result.response, ensure_ascii=False) if result.response is not None else None
        if result.ok:
            return outbox.Outcome(row.id, states.ACKNOWLEDGED, attempts=calls, response=response)
        if result.retryable:
            delay = policy.delay_for(row.attempts + calls, result.retry_after)
            outcome = self._retry_or_dead(row, calls, policy, result.message or "retryable error", delay)
            outcome.response = response
            return outcome
        return outbox.Outcome(row.id, states.DEAD, attempts=calls, error=result.message, response=response)

    @staticmethod
    def _retry_or_dead(
        row: OutboxRow, calls: int, policy: RetryPolicy, error: str, delay: float
    ) -> outbox.Outcome:
        if row.attempts + calls >= policy.attempts:
            return outbox.Outcome(
                row.id,
                states.DEAD,
                attempts=calls,
                error=f"retry budget spent ({row.attempts + calls} attempts): {error.removeprefix(OUTCOME_UNKNOWN)}",
            )
        return outbox.Outcome(
            row.id,
            states.RETRY_SCHEDULED,
            attempts=calls,
            error=error,
            next_attempt_at=utcnow() + timedelta(seconds=delay),
        )

    def _acknowledged_keys(self, target: str, operation: str, keys: list[str]) -> set[str]:
        """Keys of which the target already acknowledged a version: those are sent as updates.
        Filtered by state in Python so that the query stays on ``ix_outbox_key`` (with a state term
        SQLite picked the claim index and walked every acknowledged row of the operation)."""
        with self.store.session() as session:
            found = session.execute(
                select(OutboxRow.record_key, OutboxRow.state).where(
                    OutboxRow.target == target,
                    OutboxRow.operation == operation,
                    OutboxRow.record_key.in_(keys),
                )
            ).all()
            return {key for key, state in found if state == states.ACKNOWLEDGED}


def _failure_reason(exc: RetriableError) -> str:
    """Why a call got no usable answer, in the words of lienthong.outcomes."""
    if exc.status is None:
        return run_outcomes.UNREACHABLE  # refused, reset, timed out, login unreachable
    return f"answered {'HTTP ' if isinstance(exc.status, int) else 'code '}{exc.status}"
