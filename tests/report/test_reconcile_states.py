"""Each reconciliation rule on a hand-built store, on SQLite and PostgreSQL (the ``store`` fixture):
which outbox row decides a version's state, what counts as missing, and what is merely waiting."""

from __future__ import annotations

from datetime import timedelta

from lienthong import states
from lienthong.clock import utcnow
from lienthong.reconcile import reconcile_interval
from lienthong.store.models import OutboxRow, Run, StagedRecord

ROUTE = "r"


class Builder:
    def __init__(self, store) -> None:  # noqa: ANN001
        self.store = store
        self.now = utcnow()
        self.n = 0

    def run(self, status: str) -> int:
        with self.store.session() as session:
            run = Run(route=ROUTE, kind="run", actor="t", started_at=self.now, status=status, counts="{}")
            session.add(run)
            session.flush()
            return run.id

    def version(self, key: str, state: str, *, age: timedelta = timedelta(0), agency: str = "A") -> int:
        self.n += 1
        with self.store.session() as session:
            row = StagedRecord(
                route=ROUTE,
                record_key=key,
                source_id=key,
                source_updated="x",
                agency=agency,
                content_hash=f"h{self.n}",
                body="{}",
                state=state,
                staged_at=self.now - age,
            )
            session.add(row)
            session.flush()
            return row.id

    def row(
        self,
        staged_id: int,
        key: str,
        state: str,
        *,
        parent: int | None = None,
        items: int = 1,
        attempts: int = 0,
    ) -> int:
        self.n += 1
        with self.store.session() as session:
            row = OutboxRow(
                route=ROUTE,
                target="t",
                operation="Follow" if parent else "Main",
                record_key=key,
                seq=self.n,
                payload="{}",
                payload_hash=f"p{self.n}",
                item_count=items,
                mapping_version="v",
                idempotency_key=f"k{self.n}",
                staged_id=staged_id,
                parent_id=parent,
                state=state,
                attempts=attempts,
                created_at=self.now,
                updated_at=self.now,
            )
            session.add(row)
            session.flush()
            return row.id


def test_each_version_lands_in_exactly_one_state(store):
    b = Builder(store)
    b.run("succeeded")
    b.version("q", states.QUARANTINED)
    b.version("f", states.FILTERED)
    older = b.version("u", states.MAPPED, age=timedelta(days=3))  # before the window: its row decides
    b.row(older, "u", states.ACKNOWLEDGED, attempts=1)
    b.version("u", states.UNCHANGED)
    acked = b.version("a", states.MAPPED)
    b.row(acked, "a", states.ACKNOWLEDGED, attempts=1)
    # A dead letter replayed with --remap: the dead row became superseded, a newer row was acknowledged.
    remapped = b.version("remap", states.MAPPED)
    b.row(remapped, "remap", states.SUPERSEDED, attempts=3)
    b.row(remapped, "remap", states.ACKNOWLEDGED, attempts=1)
    # Only the follow-ups changed: the newest follow-up row decides, its items are counted apart.
    followup_only = b.version("fo", states.MAPPED)
    b.row(followup_only, "fo", states.RETRY_SCHEDULED, parent=acked, items=7, attempts=1)
    for state in (states.PENDING, states.IN_FLIGHT, states.DEAD, states.REVIEW, states.SUPERSEDED):
        staged = b.version(f"k-{state}", states.MAPPED)
        main = b.row(staged, f"k-{state}", state, attempts=1 if state == states.DEAD else 0)
        b.row(staged, f"k-{state}", states.PENDING, parent=main, items=3)
    b.version("old", states.MAPPED, age=timedelta(days=3))  # outside the window below: not counted

    r = reconcile_interval(store, ROUTE, b.now - timedelta(hours=1), None)
    assert (r.quarantined, r.filtered, r.unchanged) == (1, 1, 1)
    assert r.acknowledged == 2 and r.dead == 1 and r.review == 1 and r.superseded == 1
    assert r.pending == 3  # pending, in flight, and the follow-up-only version waiting for a retry
    assert r.mapped == 8 and r.pulled == 11 and r.partition_total() == 11
    assert r.attempted == 4  # two acknowledged, the dead one, the follow-up-only row that was tried once
    # Follow-ups of a dead, in-review or superseded dossier row wait for a person: blocked, not pending.
    assert r.followups == {states.RETRY_SCHEDULED: 7, states.PENDING: 6, states.BLOCKED: 9}
    assert r.ok
    # Per key (each key here has one version in the window): the unchanged one takes its older row's
    # fate; the superseded main row with nothing newer needs a person, like dead and review.
    keys = r.records
    assert (keys["acknowledged"], keys["filtered"], keys["quarantined"]) == (3, 1, 1)
    assert (keys["pending"], keys["dead"], keys["review"], keys["superseded"]) == (3, 1, 1, 1)
    assert keys.records == 11 and r.gap == keys.gap == 11 - 3 - 1 and keys.needs_person == 4


def test_lost_versions_are_missing_and_named_by_key(store):
    b = Builder(store)
    b.run("succeeded")
    b.version("mapped-without-row", states.MAPPED)
    b.version("never-mapped", states.STAGED)
    b.version("odd", "weird-state")
    b.row(b.version("fine", states.MAPPED), "fine", states.ACKNOWLEDGED)

    r = reconcile_interval(store, ROUTE, None, None)
    assert r.missing == 3 and not r.ok
    assert sorted(r.missing_keys) == ["mapped-without-row", "never-mapped", "odd"]
    assert r.partition_total() == r.pulled == 4


def test_a_version_still_staged_while_its_route_runs_is_waiting_not_missing(store):
    b = Builder(store)
    b.run("running")
    b.version("being-mapped", states.STAGED)
    b.version("mapped-without-row", states.MAPPED)

    r = reconcile_interval(store, ROUTE, None, None)
    assert r.awaiting_mapping == 1 and r.missing == 1
    assert r.missing_keys == ["mapped-without-row"]
    assert r.partition_total() == r.pulled == 2


def test_an_empty_interval_is_all_zeros_and_ok(store):
    r = reconcile_interval(store, "nothing-here", None, None)
    assert r.pulled == 0 and r.ok and r.gap == 0 and r.partition_total() == 0


def test_the_report_names_missing_versions_and_is_not_ok(store):
    from lienthong.report import collect_report
    from lienthong.report.csvout import render_csv
    from lienthong.report.html import render_html
    from lienthong.report.text import render_text

    b = Builder(store)
    b.run("failed")
    b.version("000.00.12.H07-250114-0042", states.MAPPED, agency="000.00.12.H07")
    b.row(b.version("fine", states.MAPPED), "fine", states.ACKNOWLEDGED)

    data = collect_report(store, {ROUTE: "DongBoHoSoMC"})
    assert not data.ok and data.routes[0].totals.missing_keys == ["000.00.12.H07-250114-0042"]
    text = render_text(data)
    assert "MISSING 1" in text and "000.00.12.H07-250114-0042" in text
    assert text.startswith("✗ 1 record version and 1 record in no known state")
    assert 'class="banner lost"' in render_html(data)
    assert f"route_total,{ROUTE},,,,,missing,1" in render_csv(data)
    assert "banner,,,,,,exit_code,3" in render_csv(data)
