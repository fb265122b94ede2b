"""The store on SQLite and PostgreSQL: migrations, staging with the watermark, outbox claim rules, leases."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import select, update

from lienthong import states
from lienthong.clock import utcnow
from lienthong.store import leases, outbox
from lienthong.store.models import Base, OutboxRow, StagedRecord
from lienthong.store.staging import PulledRecord, StoredMark, load_watermark, stage_page


def add_row(
    store,
    key: str,
    seq: int = 1,
    *,
    operation: str = "Op",
    parent_id: int | None = None,
    state: str = states.PENDING,
    items: int = 1,
) -> int:
    now = utcnow()
    with store.session() as session:
        row = OutboxRow(
            route="r",
            target="t",
            operation=operation,
            record_key=key,
            seq=seq,
            payload="{}",
            payload_hash=f"h{key}{seq}",
            item_count=items,
            mapping_version="v",
            idempotency_key=f"{operation}/{key}/{seq}",
            parent_id=parent_id,
            state=state,
            attempts=0,
            created_at=now,
            updated_at=now,
        )
        session.add(row)
        session.flush()
        return row.id


def ack(store, owner: str, rows) -> None:
    outbox.record_outcomes(store, owner, [outbox.Outcome(r.id, states.ACKNOWLEDGED) for r in rows])


def test_migrations_match_the_models(store):
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_staging_is_idempotent_and_moves_the_watermark(store):
    records = [PulledRecord(f"K{i}", f"id{i}", "2025-01-01T00:00:00.000+0700", {"n": i}) for i in range(3)]
    mark = StoredMark("2025-01-01T00:00:00.000+0700", frozenset({"id0", "id1", "id2"}))
    assert stage_page(store, "route", records, run_id=None, mark=mark) == (3, 0)
    assert stage_page(store, "route", records, run_id=None, mark=mark) == (0, 3)
    changed = [PulledRecord("K1", "id1", "2025-01-02T00:00:00.000+0700", {"n": 99})]
    assert stage_page(store, "route", changed, run_id=None, mark=None) == (1, 0)
    assert load_watermark(store, "route") == mark
    with store.session() as session:
        versions = (
            session.execute(select(StagedRecord.body).where(StagedRecord.record_key == "K1")).scalars().all()
        )
    assert sorted(versions) == ['{"n":1}', '{"n":99}']


def test_one_version_per_key_in_flight_and_in_order(store):
    first = add_row(store, "A", 1)
    second = add_row(store, "A", 2)
    other = add_row(store, "B", 1)
    claimed = outbox.claim(store, "t", "Op", "w1", max_items=10, lease_seconds=60)
    assert {r.id for r in claimed} == {first, other}
    assert outbox.claim(store, "t", "Op", "w2", max_items=10, lease_seconds=60) == []
    ack(store, "w1", claimed)
    again = outbox.claim(store, "t", "Op", "w2", max_items=10, lease_seconds=60)
    assert [r.id for r in again] == [second]


def test_followups_wait_for_their_parent(store):
    parent = add_row(store, "A", 1)
    child = add_row(store, "A", 1, operation="Progress", parent_id=parent)
    assert outbox.claim(store, "t", "Progress", "w", 10, 60) == []
    rows = outbox.claim(store, "t", "Op", "w", 10, 60)
    ack(store, "w", rows)
    assert [r.id for r in outbox.claim(store, "t", "Progress", "w", 10, 60)] == [child]


def test_batches_count_items_not_rows(store):
    ids = [add_row(store, f"K{i}", items=4) for i in range(4)]
    claimed = outbox.claim(store, "t", "Op", "w", max_items=10, lease_seconds=60)
    assert [r.id for r in claimed] == ids[:2]


def test_expired_lease_returns_rows_and_the_old_owner_cannot_record(store):
    row_id = add_row(store, "A")
    assert outbox.claim(store, "t", "Op", "dead-worker", 10, lease_seconds=60)
    with store.session() as session:
        session.execute(update(OutboxRow).values(lease_expires_at=utcnow() - timedelta(seconds=1)))
    taken = outbox.claim(store, "t", "Op", "new-worker", 10, 60)
    assert [r.id for r in taken] == [row_id]
    # It may have been sent by the worker that lost it: the new worker asks the target first.
    assert taken[0].last_error == outbox.LEFT_IN_FLIGHT
    with store.session() as session:
        assert session.get(OutboxRow, row_id).last_error.startswith(outbox.OUTCOME_UNKNOWN)
    assert outbox.record_outcomes(store, "dead-worker", [outbox.Outcome(row_id, states.DEAD, error="x")]) == 0
    assert outbox.record_outcomes(store, "new-worker", [outbox.Outcome(row_id, states.ACKNOWLEDGED)]) == 1
    with store.session() as session:
        row = session.get(OutboxRow, row_id)
        assert (row.state, row.attempts, row.lease_owner) == (states.ACKNOWLEDGED, 1, None)


def test_retry_scheduled_rows_wait_for_their_time(store):
    row_id = add_row(store, "A")
    rows = outbox.claim(store, "t", "Op", "w", 10, 60)
    later = utcnow() + timedelta(seconds=1.0)
    outbox.record_outcomes(
        store, "w", [outbox.Outcome(row_id, states.RETRY_SCHEDULED, next_attempt_at=later, error="503")]
    )
    assert rows and outbox.claim(store, "t", "Op", "w", 10, 60) == []
    assert outbox.next_retry_at(store, [("t", "Op")]) == later
    time.sleep(1.1)
    assert [r.id for r in outbox.claim(store, "t", "Op", "w", 10, 60)] == [row_id]


def test_supersede_only_touches_unsent_older_versions(store):
    sent = add_row(store, "A", 1, state=states.ACKNOWLEDGED)
    waiting = add_row(store, "A", 2)
    with store.session() as session:
        assert outbox.supersede_older(session, "t", "Op", "A", below_seq=3) == 1
    with store.session() as session:
        assert session.get(OutboxRow, sent).state == states.ACKNOWLEDGED
        assert session.get(OutboxRow, waiting).state == states.SUPERSEDED


def test_concurrent_claims_never_hand_out_a_row_twice(store):
    total = 300
    for i in range(total):
        add_row(store, f"K{i}")
    taken: list[int] = []
    lock = threading.Lock()

    def worker(name: str) -> None:
        while True:
            rows = outbox.claim(store, "t", "Op", name, 7, 60)
            if not rows:
                return
            with lock:
                taken.extend(r.id for r in rows)
            ack(store, name, rows)

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(taken) == total and len(set(taken)) == total
    assert outbox.state_counts(store)[states.ACKNOWLEDGED] == total


def test_leases_exclude_a_second_holder_until_expiry(store):
    leases.acquire(store, "extract:r", "a", ttl_seconds=60)
    with pytest.raises(leases.LeaseHeld, match="held by a"):
        leases.acquire(store, "extract:r", "b", ttl_seconds=60)
    leases.acquire(store, "extract:r", "a", ttl_seconds=60)  # the holder may take it again
    leases.release(store, "extract:r", "a")
    leases.acquire(store, "extract:r", "b", ttl_seconds=0.01)
    time.sleep(0.05)
    leases.acquire(store, "extract:r", "c", ttl_seconds=60)  # expired: taken over


def test_refresh_statistics_gives_the_planner_the_outbox_size(store):
    for i in range(300):
        add_row(store, f"k{i:04d}")
    store.refresh_statistics("outbox", "staged_records")  # on SQLite: nothing to do, and no error
    if store.is_postgres:
        with store.engine.connect() as conn:
            estimated = conn.exec_driver_sql("SELECT reltuples FROM pg_class WHERE relname = 'outbox'").scalar()
        assert estimated == 300


def test_rows_of_a_worker_that_died_come_back_pending_and_marked_outcome_unknown(store):
    from tests.integration.test_recovery import a_dead_worker_id

    dead_owner = a_dead_worker_id()
    row_id = add_row(store, "A")
    fresh = add_row(store, "B")
    assert len(outbox.claim(store, "t", "Op", dead_owner, 1, lease_seconds=600)) == 1
    assert outbox.recover_orphans(store) == 1
    with store.session() as session:
        recovered, untouched = session.get(OutboxRow, row_id), session.get(OutboxRow, fresh)
    assert (recovered.state, recovered.lease_owner) == (states.PENDING, None)
    assert recovered.last_error == outbox.LEFT_IN_FLIGHT
    assert untouched.last_error is None


def test_rows_in_flight_are_counted_per_process(store):
    """A run's summary flags rows its own process still holds, not those another live worker is
    delivering right now (several `lienthong run` processes share a route)."""
    for key in ("A", "B", "C"):
        add_row(store, key)
    outbox.claim(store, "t", "Op", "host:100:1", 1, lease_seconds=60)
    outbox.claim(store, "t", "Op", "host:100:2", 1, lease_seconds=60)
    outbox.claim(store, "t", "Op", "host:1000:1", 1, lease_seconds=60)
    assert outbox.in_flight_under(store, "host:100:") == 2
    assert outbox.in_flight_under(store, "host:1000:") == 1
    assert outbox.in_flight_under(store, "host:7:") == 0
