"""Batch planning (pure) and the key-range claim it relies on, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from lienthong import states
from lienthong.airflow.batches import Batch, left_in, live_key_counts, plan, plan_route
from lienthong.store import outbox
from lienthong.store.outbox import KeyRange
from tests.store.test_outbox import ack, add_row


def keys(n: int, rows: int = 1) -> list[tuple[str, int]]:
    return [(f"k{i:05d}", rows) for i in range(n)]


def covering(batches: list[Batch], key: str) -> list[int]:
    return [b.index for b in batches if b.key_range.contains(key)]


def test_batches_hold_about_batch_size_rows_and_cover_every_key_once():
    counts = keys(1000, rows=3)
    batches = plan(counts, batch_size=100, max_batches=1024)
    assert len(batches) == 30  # 3,000 rows / 100 (each batch closes at 102 = 34 keys of 3 rows)
    assert sum(b.rows for b in batches) == 3000 and sum(b.keys for b in batches) == 1000
    assert batches[0].low is None and batches[-1].high is None
    assert all(a.high == b.low for a, b in zip(batches, batches[1:], strict=False))
    for key, _ in counts:
        assert len(covering(batches, key)) == 1
    # A key queued after planning still belongs to exactly one batch.
    for late in ("", "a", "k00050x", "zzz"):
        assert len(covering(batches, late)) == 1


def test_the_plan_never_exceeds_the_map_length_cap_and_widens_batches_instead():
    for n, cap in [(10_000, 1024), (5_000, 7), (1025, 1024), (2048, 1024), (999, 1000), (7, 3)]:
        batches = plan(keys(n), batch_size=1, max_batches=cap)
        assert len(batches) <= cap, (n, cap)
        assert sum(b.rows for b in batches) == n
    assert len(plan(keys(2048), batch_size=1, max_batches=1024)) == 1024  # exactly at the cap: all used


def test_a_key_and_its_followups_are_never_split_even_when_bigger_than_a_batch():
    counts = [("a", 1), ("b", 40), ("c", 1), ("d", 1)]  # b: a dossier with 39 progress rows
    batches = plan(counts, batch_size=5, max_batches=1024)
    assert [b.keys for b in batches] == [2, 2]
    assert [b.rows for b in batches] == [41, 2]
    assert covering(batches, "b") == [0]


def test_nothing_to_deliver_is_one_batch_over_every_key():
    assert plan([], batch_size=500, max_batches=1024) == [Batch(0, None, None, 0, 0)]


def test_a_batch_survives_the_trip_through_xcom():
    batch = plan(keys(10), 3, 1024)[1]
    assert Batch.from_dict(batch.to_dict()) == batch and "rows" in batch.label


# --- on the store: SQLite and PostgreSQL (the ``store`` fixture) ---------------------------------
def test_a_range_claim_takes_only_its_keys_and_the_unranged_claim_is_unchanged(store):
    ids = {key: add_row(store, key) for key in ("a1", "a2", "b1", "b2", "c1")}
    first = outbox.claim(store, "t", "Op", "w1", 10, 60, key_range=KeyRange(None, "b1"))
    assert sorted(r.record_key for r in first) == ["a1", "a2"]
    middle = outbox.claim(store, "t", "Op", "w2", 10, 60, route="r", key_range=KeyRange("b1", "c1"))
    assert sorted(r.record_key for r in middle) == ["b1", "b2"]
    assert outbox.claim(store, "t", "Op", "w3", 10, 60, key_range=KeyRange("b1", "c1")) == []
    rest = outbox.claim(store, "t", "Op", "w4", 10, 60)  # no range: the existing path
    assert [r.id for r in rest] == [ids["c1"]]


def test_followups_in_a_range_still_wait_for_their_parent(store):
    parent = add_row(store, "m1", operation="Main")
    add_row(store, "m1", operation="Progress", parent_id=parent)
    in_range = KeyRange("m", "n")
    assert outbox.claim(store, "t", "Progress", "w", 10, 60, key_range=in_range) == []
    main = outbox.claim(store, "t", "Main", "w", 10, 60, key_range=in_range)
    ack(store, "w", main)
    assert [r.record_key for r in outbox.claim(store, "t", "Progress", "w", 10, 60, key_range=in_range)] == [
        "m1"
    ]


def test_the_plan_follows_the_databases_key_order_and_counts_live_rows_only(store):
    for key in ("b", "a", "c", "d"):
        add_row(store, key)
    done = add_row(store, "e")
    add_row(store, "a", operation="Progress", parent_id=None)
    ack(store, "x", outbox.claim(store, "t", "Op", "x", 10, 60, key_range=KeyRange("e", None)))
    assert done and live_key_counts(store, "r") == [("a", 2), ("b", 1), ("c", 1), ("d", 1)]
    batches = plan_route(store, "r", batch_size=2, max_batches=1024)
    assert [(b.low, b.high, b.rows) for b in batches] == [(None, "b", 2), ("b", "d", 2), ("d", None, 1)]
    # Every live row is claimable by exactly one batch.
    claimed = []
    for batch in batches:
        for operation in ("Op", "Progress"):
            claimed += outbox.claim(
                store, "t", operation, f"w{batch.index}", 10, 60, key_range=batch.key_range
            )
    assert sorted(r.record_key for r in claimed) == ["a", "a", "b", "c", "d"]


def test_what_a_batch_leaves_for_the_next_run_is_reported(store):
    from datetime import timedelta

    from lienthong.clock import utcnow

    row = add_row(store, "a")
    claimed = outbox.claim(store, "t", "Op", "w", 10, 60, key_range=KeyRange(None, "b"))
    later = utcnow() + timedelta(hours=1)
    outbox.record_outcomes(store, "w", [outbox.Outcome(row, states.RETRY_SCHEDULED, next_attempt_at=later)])
    add_row(store, "z")
    assert claimed and outbox.next_retry_at(store, [("t", "Op")], "r", KeyRange("b", None)) is None
    assert outbox.next_retry_at(store, [("t", "Op")], "r", KeyRange(None, "b")) == later
    left = left_in(store, "r", KeyRange(None, "b"))
    assert left[states.RETRY_SCHEDULED] == 1 and left[states.PENDING] == 0 and left["next_retry_at"]


@pytest.mark.parametrize("bad", [0, -1])
def test_a_plan_needs_positive_sizes(bad):
    with pytest.raises(ValueError):
        plan(keys(3), bad, 10)
