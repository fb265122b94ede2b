"""The retry policy (pure unit: the sleep is injected, nothing waits)."""

from __future__ import annotations

import random

import pytest

from connectors.retry import RetryPolicy
from lienthong.errors import ConfigError, FatalError, RetriableError


def test_full_jitter_stays_under_the_exponential_ceiling():
    policy = RetryPolicy(base_delay=0.5, max_delay=10)
    rng = random.Random(1)
    for attempt, ceiling in [(1, 0.5), (2, 1.0), (3, 2.0), (6, 10.0), (30, 10.0)]:
        delays = [policy.backoff(attempt, rng) for _ in range(200)]
        assert max(delays) <= ceiling and min(delays) >= 0
        assert max(delays) > ceiling * 0.8  # jitter spreads over the whole range


def test_retry_after_is_a_floor():
    policy = RetryPolicy(base_delay=0.1, max_delay=1)
    assert policy.delay_for(1, retry_after=7) == 7


def test_transient_failures_are_retried_in_the_call_then_succeed():
    slept = []
    calls = iter([RetriableError("503"), RetriableError("reset"), "ok"])

    def fn():
        value = next(calls)
        if isinstance(value, Exception):
            raise value
        return value

    assert RetryPolicy(in_call_attempts=3, base_delay=0.01).call(fn, sleep=slept.append) == "ok"
    assert len(slept) == 2


def test_a_long_retry_after_ends_the_call_and_reports_the_wait():
    def fn():
        raise RetriableError("429", retry_after=120)

    with pytest.raises(RetriableError) as caught:
        RetryPolicy(in_call_attempts=5, max_in_call_wait=5).call(
            fn, sleep=lambda s: pytest.fail("must not sleep")
        )
    assert caught.value.attempts == 1
    assert caught.value.next_delay == 120


def test_the_attempt_budget_of_a_call_is_bounded():
    count = 0

    def fn():
        nonlocal count
        count += 1
        raise RetriableError("timeout")

    with pytest.raises(RetriableError) as caught:
        RetryPolicy(in_call_attempts=3, base_delay=0.001).call(fn, sleep=lambda s: None)
    assert count == 3 and caught.value.attempts == 3


def test_permanent_errors_are_not_retried():
    count = 0

    def fn():
        nonlocal count
        count += 1
        raise FatalError("soap:Client")

    with pytest.raises(FatalError):
        RetryPolicy().call(fn, sleep=lambda s: None)
    assert count == 1


def test_unknown_settings_are_refused_by_name():
    with pytest.raises(ConfigError, match="atempts"):
        RetryPolicy.from_config({"atempts": 3})
    assert RetryPolicy.from_config({"attempts": "4"}).attempts == 4
