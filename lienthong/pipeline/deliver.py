"""Deliver: workers claim outbox rows in batches, send them, and record each row's outcome.

Several threads (and, on PostgreSQL, several processes) share the work through the outbox's
claims; the retry policy of the target decides between retrying in the call, scheduling a later
attempt (``retry_scheduled``) and giving up (``dead``).  A row is never left ``in_flight`` by a
worker that is still alive: whatever happens in the call, its outcome or its release is written.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import select

from connectors.retry import RetryPolicy
from connectors.targets import Delivery, ItemResult, Target
from lienthong import states
from lienthong.clock import utcnow
from lienthong.errors import FatalError, RetriableError
from lienthong.store import outbox
from lienthong.store.db import Store
from lienthong.store.models import OutboxRow
from lienthong.workers import lease_seconds, worker_id

log = logging.getLogger(__name__)


@dataclass
class DeliverResult:
    outcomes: Counter[str] = field(default_factory=Counter)  # state → rows
    calls: int = 0
    items_sent: int = 0
    last_errors: list[str] = field(default_factory=list)

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
    ) -> None:
        self.store = store
        self.targets = targets
        self.route = route
        self.concurrency = max(1, concurrency)
        self.on_rows = on_rows
        self.sleep = sleep
        self.result = DeliverResult()
        self.lease_seconds = lease_seconds("deliver")
        self._lock = threading.Lock()

    def policy(self, target: str) -> RetryPolicy:
        return self.targets[target].spec.retry

    # --- the loop ------------------------------------------------------------------------------
    def run(self, operations: list[tuple[str, str]], wait_for_retries: float = 0.0) -> DeliverResult:
        """Deliver until nothing is claimable; then wait for retries falling due within the limit."""
        deadline = time.monotonic() + wait_for_retries
        recovered = outbox.recover_orphans(self.store)
        if recovered:
            log.warning("recovered %d rows left in flight by workers of this host that died", recovered)
        while True:
            for target, operation in operations:
                self._drain(target, operation)
            due = outbox.next_retry_at(self.store, operations, self.route)
            if due is None:
                return self.result
            wait = (due - utcnow()).total_seconds()
            if time.monotonic() + max(0.0, wait) > deadline:
                return self.result
            self.sleep(max(0.05, wait))

    def _drain(self, target: str, operation: str) -> None:
        workers = [
            threading.Thread(
                target=self._work, args=(target, operation), name=f"deliver-{target}-{i}", daemon=True
            )
            for i in range(self.concurrency)
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()

    def _work(self, target: str, operation: str) -> None:
        owner = worker_id()
        batch_size = self.targets[target].operation(operation).batch_size
        while True:
            rows = outbox.claim(
                self.store, target, operation, owner, batch_size, self.lease_seconds, self.route
            )
            if not rows:
                return
            try:
                self.deliver_batch(target, operation, rows, owner)
            except Exception:
                # Never leave rows in flight behind a live worker: hand them back, then fail loudly.
                outbox.release(self.store, owner, [row.id for row in rows])
                raise

    # --- one batch -----------------------------------------------------------------------------
    def deliver_batch(self, target_name: str, operation: str, rows: list[OutboxRow], owner: str) -> None:
        target = self.targets[target_name]
        policy = self.policy(target_name)
        updates = self._acknowledged_keys(target_name, operation, [row.record_key for row in rows])
        deliveries = [
            Delivery(row.id, row.record_key, json.loads(row.payload), row.record_key in updates)
            for row in rows
        ]
        calls = 0

        def attempt() -> list[ItemResult]:
            nonlocal calls
            calls += 1
            return target.send(operation, deliveries)

        outcomes: list[outbox.Outcome]
        try:
            results = policy.call(attempt, sleep=self.sleep)
            outcomes = [
                self._outcome(row, result, calls, policy) for row, result in zip(rows, results, strict=True)
            ]
        except RetriableError as exc:
            outcomes = [self._retry_or_dead(row, calls, policy, str(exc), exc.next_delay) for row in rows]  # type: ignore[attr-defined]
        except FatalError as exc:
            outcomes = [outbox.Outcome(row.id, states.DEAD, attempts=calls, error=str(exc)) for row in rows]
        outbox.record_outcomes(self.store, owner, outcomes)
        with self._lock:
            self.result.calls += calls
            self.result.items_sent += sum(row.item_count for row in rows)
            for outcome in outcomes:
                self.result.add(outcome.state, outcome.error)
        if self.on_rows:
            self.on_rows(len(rows))

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
                error=f"retry budget spent ({row.attempts + calls} attempts): {error}",
            )
        return outbox.Outcome(
            row.id,
            states.RETRY_SCHEDULED,
            attempts=calls,
            error=error,
            next_attempt_at=utcnow() + timedelta(seconds=delay),
        )

    def _acknowledged_keys(self, target: str, operation: str, keys: list[str]) -> set[str]:
        """Keys of which the target already acknowledged a version: those are sent as updates."""
        with self.store.session() as session:
            found = session.execute(
                select(OutboxRow.record_key)
                .where(
                    OutboxRow.target == target,
                    OutboxRow.operation == operation,
                    OutboxRow.record_key.in_(keys),
                    OutboxRow.state == states.ACKNOWLEDGED,
                )
                .distinct()
            ).scalars()
            return set(found)
