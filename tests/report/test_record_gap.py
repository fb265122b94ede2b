"""The gap per record key (``lienthong.record_gap``) on hand-built stores, on SQLite and PostgreSQL: a
key's latest version decides, older versions are history, tombstones take precedence, a loss is always
shown, and the reasons a report prints are masked."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import update

from lienthong import states
from lienthong.reconcile import counting_session, reconcile_interval
from lienthong.record_gap import gap_list, record_fates
from lienthong.report.gap_details import gap_details
from lienthong.store.models import OutboxRow, QuarantineEntry, Tombstone
from tests.report.test_reconcile_states import ROUTE, Builder


def _fates(store, start=None, end=None) -> dict[str, str]:  # noqa: ANN001
    with counting_session(store) as session:
        return {f.record_key: f.fate for f in record_fates(session, ROUTE, start, end)}


def _error(store, row_id: int, text: str) -> None:  # noqa: ANN001
    with store.session() as session:
        session.execute(update(OutboxRow).where(OutboxRow.id == row_id).values(last_error=text))


def test_the_latest_version_decides_and_older_ones_are_history(store):
    b = Builder(store)
    b.run("succeeded")
    # Dead at version 1, acknowledged at version 2: settled (the dead row stays dead, it is history).
    b.row(b.version("fixed", states.MAPPED, age=timedelta(hours=2)), "fixed", states.DEAD, attempts=3)
    b.row(b.version("fixed", states.MAPPED), "fixed", states.ACKNOWLEDGED, attempts=1)
    # Acknowledged, then a quarantined version: the record is quarantined.
    b.row(b.version("broke", states.MAPPED, age=timedelta(hours=2)), "broke", states.ACKNOWLEDGED)
    b.version("broke", states.QUARANTINED)
    # Dead, then a version whose payload equals the dead one (unchanged): still dead.
    b.row(b.version("same", states.MAPPED, age=timedelta(hours=2)), "same", states.DEAD, attempts=3)
    b.version("same", states.UNCHANGED)
    # The dossier acknowledged, its progress follow-up dead: the record is dead.
    main = b.row(b.version("steps", states.MAPPED), "steps", states.ACKNOWLEDGED)
    b.row(b.version("steps", states.MAPPED), "steps", states.DEAD, parent=main, items=4)
    # A pending follow-up of a dossier row in review is blocked; the review decides (worse).
    staged = b.version("reviewed", states.MAPPED)
    b.row(staged, "reviewed", states.PENDING, parent=b.row(staged, "reviewed", states.REVIEW), items=2)
    # Mapped, but no row of its own although older versions have rows: lost.
    b.row(b.version("lost", states.MAPPED, age=timedelta(hours=2)), "lost", states.ACKNOWLEDGED)
    b.version("lost", states.MAPPED)
    b.version("out", states.FILTERED)

    fates = _fates(store)
    assert fates == {
        "fixed": "acknowledged",
        "broke": "quarantined",
        "same": "dead",
        "steps": "dead",
        "reviewed": "review",
        "lost": "missing",
        "out": "filtered",
    }
    r = reconcile_interval(store, ROUTE, None, None)
    assert r.records.gap == 5 and r.records.needs_person == 4 and r.records["missing"] == 1
    assert not r.ok  # a lost key fails the reconciliation even when every version is in a known state


def test_a_window_selects_keys_and_a_newer_version_after_it_settles_them(store):
    b = Builder(store)
    b.run("succeeded")
    b.row(b.version("later-fixed", states.MAPPED, age=timedelta(days=2)), "later-fixed", states.DEAD)
    b.row(b.version("later-fixed", states.MAPPED), "later-fixed", states.ACKNOWLEDGED)
    b.row(b.version("old-dead", states.MAPPED, age=timedelta(days=2)), "old-dead", states.DEAD)
    b.row(b.version("recent", states.MAPPED), "recent", states.PENDING)

    window = (b.now - timedelta(days=3), b.now - timedelta(days=1))
    assert _fates(store, *window) == {"later-fixed": "acknowledged", "old-dead": "dead"}
    assert _fates(store, b.now - timedelta(hours=1), None) == {
        "later-fixed": "acknowledged",
        "recent": "pending",
    }


def test_an_open_tombstone_takes_precedence_but_never_hides_a_loss(store):
    b = Builder(store)
    b.run("succeeded")
    b.row(b.version("gone", states.MAPPED), "gone", states.ACKNOWLEDGED)
    b.version("gone-quarantined", states.QUARANTINED)
    b.version("gone-lost", states.MAPPED)  # no row: missing
    b.row(b.version("resolved", states.MAPPED), "resolved", states.ACKNOWLEDGED)
    with store.session() as session:
        for key, state in (("gone", "review"), ("gone-quarantined", "review"), ("gone-lost", "review")):
            session.add(
                Tombstone(
                    route=ROUTE,
                    record_key=key,
                    source_id=key,
                    reason="deleted",
                    state=state,
                    detected_at=b.now,
                )
            )
        session.add(
            Tombstone(
                route=ROUTE,
                record_key="resolved",
                source_id="r",
                reason="x",
                state="resolved",
                detected_at=b.now,
            )
        )
    assert _fates(store) == {
        "gone": "tombstone",
        "gone-quarantined": "tombstone",
        "gone-lost": "missing",
        "resolved": "acknowledged",
    }


def test_the_reasons_name_field_and_rule_and_never_show_personal_numbers(store):
    b = Builder(store)
    b.run("succeeded")
    staged = b.version("000.00.12.H07-250114-0042", states.QUARANTINED, agency="000.00.12.H07")
    errors = [{"field": "DinhDanhCHS[0].SoDinhDanh", "rule": "length", "message": "expected 12, got 11"}]
    with store.session() as session:
        session.add(
            QuarantineEntry(
                route=ROUTE,
                record_key="000.00.12.H07-250114-0042",
                staged_id=staged,
                mapping_version="v",
                message="route r, record 000.00.12.H07-250114-0042: field DinhDanhCHS[0].SoDinhDanh",
                errors=json.dumps(errors),
                state="open",
                created_at=b.now - timedelta(minutes=5),
            )
        )
    dead = b.row(b.version("d-1", states.MAPPED), "d-1", states.DEAD, attempts=3)
    _error(store, dead, "-1: Số định danh 079201012345 không hợp lệ, gọi 0912345678")
    with counting_session(store) as session:
        listed = gap_list(record_fates(session, ROUTE, None, None))
        gap_details(session, ROUTE, listed)
    by_key = {f.record_key: f for f in listed}
    quarantined = by_key["000.00.12.H07-250114-0042"]
    assert quarantined.reason == "DinhDanhCHS[0].SoDinhDanh: length (expected 12, got 11)"
    assert quarantined.since == b.now - timedelta(minutes=5) and quarantined.agency == "000.00.12.H07"
    refused = by_key["d-1"]
    assert "079201012345" not in refused.reason and "0912345678" not in refused.reason
    assert refused.reason.startswith("-1: Số định danh 079*******45") and refused.target == "t.Main"
    assert [f.fate for f in listed] == ["quarantined", "dead"]  # worst first, in the documented order
