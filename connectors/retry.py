"""The one retry policy of the gateway (tenacity), configurable per target in its YAML.

Two horizons:
- *in the call*: a worker retries a transient failure (connection error, timeout, 5xx, 429,
  ``soap:Server``) a few times with exponential backoff and full jitter, honouring ``Retry-After``,
  as long as each wait stays short (``max_in_call_wait``, well under the worker's lease);
- *across calls*: when the next wait would be longer, or the in-call budget is spent, the row is
  released as ``retry_scheduled`` with ``next_attempt_at``, so no worker sleeps on it and no other
  worker takes it early.  After ``attempts`` attempts in all, the row is ``dead``.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any, TypeVar

from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt
from tenacity.stop import stop_base
from tenacity.wait import wait_base

from lienthong.errors import ConfigError, RetriableError

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 8  # attempts per row in all, across runs, before it is dead
    in_call_attempts: int = 3  # attempts inside one claim
    base_delay: float = 0.5  # first backoff step (seconds)
    max_delay: float = 300.0  # cap of one backoff step
    max_elapsed: float = 20.0  # bound on the time spent retrying inside one call
    max_in_call_wait: float = 5.0  # a longer wait releases the row as retry_scheduled

    @classmethod
    def from_config(cls, data: dict[str, Any] | None, where: str = "retry") -> RetryPolicy:
        data = dict(data or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(
                f"{where}: unknown setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
            )
        policy = cls(**{k: type(getattr(cls, k))(v) for k, v in data.items()})
        if policy.attempts < 1 or policy.in_call_attempts < 1:
            raise ConfigError(f"{where}: attempts must be at least 1")
        return policy

    def backoff(self, attempt: int, rng: random.Random | None = None) -> float:
        """Full jitter (AWS architecture blog): uniform in [0, min(cap, base * 2^(attempt-1))]."""
        ceiling = min(self.max_delay, self.base_delay * (2 ** max(0, attempt - 1)))
        return (rng or random).uniform(0, ceiling)

    def delay_for(self, attempt: int, retry_after: float | None, rng: random.Random | None = None) -> float:
        """The wait before the next attempt: the backoff, but never shorter than the target asked."""
        return max(retry_after or 0.0, self.backoff(attempt, rng))

    def call(self, fn: Callable[[], T], sleep: Callable[[float], None] = time.sleep) -> T:
        """Run ``fn`` with in-call retries; re-raise the last :class:`RetriableError` when giving up.

        The raised error carries ``attempts`` (made in this call) and ``next_delay`` (the wait the
        caller should schedule the retry after).
        """
        state: dict[str, float] = {"next_delay": 0.0}
        retrying = Retrying(
            sleep=sleep,
            retry=retry_if_exception_type(RetriableError),
            wait=_PolicyWait(self, state),
            stop=stop_after_attempt(self.in_call_attempts) | _StopBeforeLongWait(self),
            reraise=True,
        )
        try:
            return retrying(fn)
        except RetriableError as exc:
            exc.attempts = retrying.statistics.get("attempt_number", 1)
            exc.next_delay = max(state["next_delay"], exc.retry_after or 0.0)
            raise


class _PolicyWait(wait_base):
    def __init__(self, policy: RetryPolicy, state: dict[str, float]) -> None:
        self.policy = policy
        self.state = state

    def __call__(self, retry_state: RetryCallState) -> float:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        retry_after = getattr(exc, "retry_after", None)
        delay = self.policy.delay_for(retry_state.attempt_number, retry_after)
        self.state["next_delay"] = delay
        return delay


class _StopBeforeLongWait(stop_base):
    """Stop retrying in the call when the next wait is too long or the elapsed budget would pass."""

    def __init__(self, policy: RetryPolicy) -> None:
        self.policy = policy

    def __call__(self, retry_state: RetryCallState) -> bool:
        upcoming = retry_state.upcoming_sleep
        elapsed = retry_state.seconds_since_start or 0.0
        return upcoming > self.policy.max_in_call_wait or elapsed + upcoming > self.policy.max_elapsed
