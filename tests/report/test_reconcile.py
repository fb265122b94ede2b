"""Reconciliation after a demo-like run against the simulators: the counts add up, agree with the
store and with what the targets hold, and a window splits them exactly."""

from __future__ import annotations

from sqlalchemy import func, select

from lienthong import states
from lienthong.reconcile import reconcile_interval
from lienthong.store.models import OutboxRow, QuarantineEntry, StagedRecord
from tests.integration.conftest import received
from tests.report.conftest import ROUTES


def _delivery_sum(r) -> int:  # noqa: ANN001
    return r.acknowledged + r.dead + r.pending + r.review + r.superseded


def test_every_route_adds_up_and_nothing_is_missing(scenario):
    for route in ROUTES:
        r = reconcile_interval(scenario.gateway.store, route, None, None)
        assert r.partition_total() == r.pulled > 0, route
        assert r.mapped == _delivery_sum(r), route
        assert (
            r.pulled == r.mapped + r.quarantined + r.filtered + r.unchanged + r.awaiting_mapping + r.missing
        )
        assert r.ok and r.missing == 0 and r.missing_keys == [], route
        keys = r.records
        assert r.gap == keys.gap == keys.records - keys["acknowledged"] - keys["filtered"], route
        assert keys.records <= r.pulled and keys["missing"] == 0, route
        assert r.to_dict()["gap"] == r.gap and r.to_dict()["ok"] is True


def test_dossier_counts_match_the_store_and_the_portal(scenario):
    store = scenario.gateway.store
    r = reconcile_interval(store, "dossier_sync", None, None)
    assert r.quarantined > 0 and r.dead > 0 and r.filtered > 0 and r.unchanged == 1
    assert r.pending == 0 and r.review == 0 and r.superseded == 0
    with store.session() as session:
        quarantined = session.execute(
            select(func.count(func.distinct(QuarantineEntry.staged_id))).where(
                QuarantineEntry.route == "dossier_sync"
            )
        ).scalar_one()
        dead_main = session.execute(
            select(func.count()).where(
                OutboxRow.route == "dossier_sync",
                OutboxRow.state == states.DEAD,
                OutboxRow.parent_id.is_(None),
            )
        ).scalar_one()
        source_ids = session.execute(
            select(StagedRecord.source_id).where(StagedRecord.route == "dossier_sync")
        ).scalars()
        app = scenario.cluster.motcua.app
        sources = [app.get_dossier(source_id) for source_id in source_ids]
    postal = sum(1 for d in sources if d and d["applyMethod"]["id"] == 3)
    assert r.quarantined == quarantined
    assert r.dead == dead_main
    assert r.filtered == postal
    # Every acknowledged version is one effective write at the portal (the withdrawn dossier: two).
    portal = received(scenario.cluster.dvcqg)["dossiers"]
    assert r.acknowledged == sum(entry["writes"] for entry in portal.values())
    assert portal[scenario.withdrawn]["writes"] == 2
    assert r.attempted == r.acknowledged + r.dead  # every dead row was tried (and refused), never delivered
    # The dead dossiers' progress records wait for them: counted apart, as items.
    assert r.followups[states.ACKNOWLEDGED] == sum(
        len(v) for v in received(scenario.cluster.dvcqg)["progress"].values()
    )
    # The progress of the dead dossiers waits for their replay (blocked), nothing waits for a worker.
    assert r.followups.get(states.BLOCKED, 0) > 0 and r.followups.get(states.PENDING, 0) == 0


def test_catalogue_and_birth_counts_match_what_the_targets_hold(scenario):
    store = scenario.gateway.store
    catalogue = reconcile_interval(store, "catalogue_sync", None, None)
    held = received(scenario.cluster.dvcqg)["catalogue"]
    assert catalogue.acknowledged == len(held)
    assert catalogue.quarantined == len(scenario.broken_procedures) == 7
    assert catalogue.filtered > 0  # not offered online
    birth = reconcile_interval(store, "birth_bhyt", None, None)
    assert birth.acknowledged == len(received(scenario.cluster.bhxh)["registrations"]) > 0


def test_a_window_splits_the_counts_exactly(scenario):
    store, mark = scenario.gateway.store, scenario.between_runs
    whole = reconcile_interval(store, "dossier_sync", None, None)
    before = reconcile_interval(store, "dossier_sync", None, mark)
    after = reconcile_interval(store, "dossier_sync", mark, None)
    assert (after.pulled, after.acknowledged, after.unchanged, after.gap) == (3, 2, 1, 0)
    for name in ("pulled", "acknowledged", "dead", "quarantined", "filtered", "unchanged", "attempted"):
        assert getattr(before, name) + getattr(after, name) == getattr(whole, name), name
    # An aware bound means the same instant as the store's naive UTC.
    from datetime import UTC

    aware = reconcile_interval(store, "dossier_sync", mark.replace(tzinfo=UTC), None)
    assert aware.to_dict() | {"start": None} == after.to_dict() | {"start": None}
