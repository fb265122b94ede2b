"""Per-target protection shared by all workers: a circuit breaker and a token-bucket rate limit.

Their state is a row of ``target_state`` in the store, so it holds across threads, processes and
machines: when the portal goes down, the workers together stop after ``failures`` consecutive failed
calls (no retry storm), wait ``open_seconds``, then let exactly one call through as a probe
(half-open); its success closes the breaker for everyone, its failure opens it again.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from lienthong.clock import utcnow
from lienthong.errors import ConfigError
from lienthong.store.db import Store
from lienthong.store.models import TargetState

log = logging.getLogger(__name__)

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"

#: How long a worker trusts having seen the breaker closed and healthy before reading it again: the
#: hot path then costs no query, and another worker's "open" reaches this one within this delay.
CLOSED_CACHE_SECONDS = 0.5


@dataclass(frozen=True)
class BreakerPolicy:
    failures: int = 5  # consecutive failed calls that open the breaker
    open_seconds: float = 30.0  # how long it stays open before a probe

    @classmethod
    def from_config(cls, data: dict[str, Any] | None, where: str) -> BreakerPolicy:
        data = dict(data or {})
        unknown = sorted(set(data) - {"failures", "open_seconds"})
        if unknown:
            raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}; known: failures, open_seconds")
        policy = cls(
            failures=int(data.get("failures", cls.failures)),
            open_seconds=float(data.get("open_seconds", cls.open_seconds)),
        )
        if policy.failures < 1 or policy.open_seconds <= 0:
            raise ConfigError(f"{where}: failures must be ≥ 1 and open_seconds > 0")
        return policy


@dataclass(frozen=True)
class RateLimit:
    per_second: float
    burst: float

    @classmethod
    def from_config(cls, data: dict[str, Any] | None, where: str) -> RateLimit | None:
        if not data:
            return None
        unknown = sorted(set(data) - {"per_second", "burst"})
        if unknown:
            raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}; known: per_second, burst")
        rate = float(data["per_second"]) if "per_second" in data else 0.0
        if rate <= 0:
            raise ConfigError(f"{where}: per_second must be a positive number")
        return cls(per_second=rate, burst=max(1.0, float(data.get("burst", rate))))


@dataclass(frozen=True)
class Permit:
    """The answer to "may I call this target now?"."""

    allowed: bool
    probe: bool = False  # this call is the half-open probe
    wait: float = 0.0  # if not allowed because of the rate limit: seconds to wait
    blocked_until: datetime | None = None  # if not allowed because the breaker is open


class TargetGuard:
    def __init__(self, store: Store, target: str, breaker: BreakerPolicy, rate: RateLimit | None) -> None:
        self.store = store
        self.target = target
        self.policy = breaker
        self.rate = rate
        self._closed_until = 0.0  # monotonic time until which "closed, no failures" is trusted
        self._ensure_row()

    def _ensure_row(self) -> None:
        """Create the target's row once, outside the hot path (concurrent first inserts are fine)."""
        from sqlalchemy.exc import IntegrityError

        try:
            with self.store.session() as session:
                if session.get(TargetState, self.target) is None:
                    session.add(
                        TargetState(target=self.target, breaker=CLOSED, failures=0, changed_at=utcnow())
                    )
        except IntegrityError:
            pass

    def _row(self, session) -> TargetState:  # noqa: ANN001
        query = select(TargetState).where(TargetState.target == self.target)
        if self.store.is_postgres:
            query = query.with_for_update()
        row = session.execute(query).scalar_one_or_none()
        if row is None:
            row = TargetState(target=self.target, breaker=CLOSED, failures=0, changed_at=utcnow())
            session.add(row)
            session.flush()
        return row

    def _transaction(self):  # noqa: ANN202
        return _Serialised(self.store)

    def probing(self) -> bool:
        """A half-open probe is under way (another worker is asking the target)."""
        with self.store.session() as session:
            row = session.get(TargetState, self.target)
            return row is not None and row.breaker == HALF_OPEN

    def blocked_until(self) -> datetime | None:
        """When an open breaker lets a probe through (None: calls may go now)."""
        if self._known_closed():
            return None
        with self.store.session() as session:
            row = session.get(TargetState, self.target)
            if row is None or row.breaker == CLOSED:
                return None
            now = utcnow()
            if row.breaker == OPEN and row.probe_at and row.probe_at <= now:
                return None
            if row.breaker == HALF_OPEN:
                if row.probe_at is None or row.probe_at + timedelta(seconds=self.policy.open_seconds) <= now:
                    return None  # the probe's worker vanished: let another probe go
                return now + timedelta(seconds=0.5)  # a probe is under way: ask again shortly
            return row.probe_at or now

    def _known_closed(self) -> bool:
        return time.monotonic() < self._closed_until

    def _remember(self, row: TargetState | None) -> None:
        healthy = row is not None and row.breaker == CLOSED and not row.failures
        self._closed_until = time.monotonic() + CLOSED_CACHE_SECONDS if healthy else 0.0

    def permit(self, owner: str) -> Permit:
        if self.rate is None:
            if self._known_closed():
                return Permit(True)
            with self.store.session() as session:  # the common case: one read, no lock
                row = session.get(TargetState, self.target)
                self._remember(row)
                if row is not None and row.breaker == CLOSED:
                    return Permit(True)
        with self._transaction() as session:
            row = self._row(session)
            now = utcnow()
            probe = False
            if row.breaker == OPEN:
                if row.probe_at and row.probe_at > now:
                    return Permit(False, blocked_until=row.probe_at)
                row.breaker, row.probe_owner, row.probe_at, row.changed_at = HALF_OPEN, owner, now, now
                probe = True
                log.warning("target %s: circuit half-open, one probe call", self.target)
            elif row.breaker == HALF_OPEN:
                stale = (
                    row.probe_at is None or row.probe_at + timedelta(seconds=self.policy.open_seconds) <= now
                )
                if row.probe_owner != owner and not stale:
                    return Permit(False, blocked_until=now + timedelta(seconds=1))
                row.probe_owner, row.probe_at = owner, now
                probe = True
            if self.rate is not None:
                elapsed = (now - row.tokens_at).total_seconds() if row.tokens_at else 0.0
                tokens = (
                    self.rate.burst
                    if row.tokens is None
                    else min(self.rate.burst, row.tokens + elapsed * self.rate.per_second)
                )
                if tokens < 1.0:
                    row.tokens, row.tokens_at = tokens, now
                    return Permit(False, wait=(1.0 - tokens) / self.rate.per_second)
                row.tokens, row.tokens_at = tokens - 1.0, now
            return Permit(True, probe=probe)

    def succeeded(self) -> None:
        if self._known_closed():
            return
        with self.store.session() as session:  # nothing to write in the common case
            row = session.get(TargetState, self.target)
            if row is not None and row.breaker == CLOSED and not row.failures:
                self._remember(row)
                return
        with self._transaction() as session:
            row = self._row(session)
            if row.breaker != CLOSED:
                log.warning("target %s: circuit closed again after a successful call", self.target)
            if row.breaker != CLOSED or row.failures:
                row.breaker, row.failures, row.probe_owner, row.probe_at, row.changed_at = (
                    CLOSED,
                    0,
                    None,
                    None,
                    utcnow(),
                )

    def failed(self, error: str) -> bool:
        """Count a failed call; True when this failure opened the breaker."""
        self._closed_until = 0.0
        with self._transaction() as session:
            row = self._row(session)
            now = utcnow()
            row.failures += 1
            row.last_error = error[:500]
            if row.breaker == HALF_OPEN or (row.breaker == CLOSED and row.failures >= self.policy.failures):
                row.breaker, row.opened_at, row.changed_at = OPEN, now, now
                row.probe_at = now + timedelta(seconds=self.policy.open_seconds)
                row.probe_owner = None
                log.error(
                    "target %s: circuit OPEN after %d consecutive failed calls (last: %s); next probe at %s UTC",
                    self.target,
                    row.failures,
                    row.last_error,
                    f"{row.probe_at:%H:%M:%S}",
                )
                return True
            return False

    def state(self) -> dict[str, Any]:
        with self.store.session() as session:
            row = session.get(TargetState, self.target)
            if row is None:
                return {"target": self.target, "breaker": CLOSED, "failures": 0}
            return {
                "target": self.target,
                "breaker": row.breaker,
                "failures": row.failures,
                "opened_at": row.opened_at,
                "probe_at": row.probe_at,
                "last_error": row.last_error,
            }


class _Serialised:
    """A transaction on the target's row: ``FOR UPDATE`` on PostgreSQL, the store's lock on SQLite."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._context = None

    def __enter__(self):  # noqa: ANN204
        if not self.store.is_postgres:
            self.store.claim_lock.acquire()
        self._context = self.store.session()
        return self._context.__enter__()

    def __exit__(self, *exc: object) -> None:
        try:
            self._context.__exit__(*exc)  # type: ignore[union-attr]
        finally:
            if not self.store.is_postgres:
                self.store.claim_lock.release()
