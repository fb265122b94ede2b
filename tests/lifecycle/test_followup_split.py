"""Follow-ups respect per-call limits (issue #17 item 4), on SQLite and PostgreSQL.

The portal takes at most 10 progress records per call.  Dossiers with 0, 10, 11, 23 and 250
processing steps (served by the one-stop simulator's ``/steps`` control) must all reach the portal
whole, in order, with no dead row and no refused call; a follow-up that did not change queues
nothing, and a changed one is queued again in parts.  When the portal tightens its limit, a few
records refused make a ``partial`` run with dead parts that block the parts after them; a whole backlog
refused alike is a configuration fault (a ``failed`` run, rows held pending).
"""

from __future__ import annotations

from sqlalchemy import func, select

from lienthong import states
from lienthong.store.models import OutboxRow
from tests.lifecycle.conftest import received, sim_post

STEPS = (0, 10, 11, 23, 250)
PROGRESS = "CapNhatTienDoHoSoMC"


def _progress_rows(gateway, code):
    with gateway.store.session() as session:
        return session.execute(
            select(OutboxRow.seq, OutboxRow.item_count, OutboxRow.state, OutboxRow.parent_id, OutboxRow.id)
            .where(OutboxRow.operation == PROGRESS, OutboxRow.record_key == code)
            .order_by(OutboxRow.seq)
        ).all()


def _steps_at_portal(cluster, code):
    progress = received(cluster.dvcqg, mahoso=code).get("progress", {}).get(code, [])
    return [entry["data"]["NoiDungXuLy"] for entry in progress]


def test_every_step_reaches_the_portal_in_order_in_calls_that_fit(cluster, gateway):
    app = cluster.motcua.app
    codes = {}
    for index, count in enumerate(STEPS):
        dossier_id = app.dossier_id(index)
        sim_post(cluster.motcua, f"/_sim/dossiers/{dossier_id}/steps", {"count": count})
        codes[count] = app.get_dossier(dossier_id)["code"]

    run = gateway.run("dossier_sync")
    assert run.status == "succeeded" and run.checks() == []
    portal = received(cluster.dvcqg)
    assert portal["rejected"] == {} and portal["totals"]["rejected"] == 0
    for count, code in codes.items():
        assert _steps_at_portal(cluster, code) == [f"Bước {k + 1}: xử lý hồ sơ" for k in range(count)]
        rows = _progress_rows(gateway, code)
        assert len(rows) == -(-count // 10)  # ceil: one part-row per 10 steps, none for 0
        assert [row.item_count for row in rows] == [min(10, count - 10 * k) for k in range(len(rows))]
        assert all(row.state == states.ACKNOWLEDGED for row in rows)
        for before, after in zip(rows, rows[1:], strict=False):
            assert after.parent_id == before.id  # part k+1 waits for part k
    with gateway.store.session() as session:
        dead = session.execute(
            select(func.count()).select_from(OutboxRow).where(OutboxRow.state == states.DEAD)
        ).scalar_one()
    assert dead == 0

    # A change elsewhere in the dossier: the 23 steps are unchanged, nothing is queued for them.
    dossier_23 = app.dossier_id(STEPS.index(23))
    app.update_dossier(dossier_23, summary="Bổ sung hồ sơ")
    again = gateway.run("dossier_sync")
    assert again.status == "succeeded" and again.checks() == []
    assert len(_progress_rows(gateway, codes[23])) == 3

    # Two more steps: the follow-up changed, all 25 are queued again in 3 parts, in order.
    sim_post(cluster.motcua, f"/_sim/dossiers/{dossier_23}/steps", {"count": 25})
    changed = gateway.run("dossier_sync")
    assert changed.status == "succeeded" and changed.checks() == []
    rows = _progress_rows(gateway, codes[23])
    assert [row.item_count for row in rows[3:]] == [10, 10, 5]
    assert all(row.state == states.ACKNOWLEDGED for row in rows)
    assert _steps_at_portal(cluster, codes[23]) == [f"Bước {k + 1}: xử lý hồ sơ" for k in range(25)]
    assert received(cluster.dvcqg)["totals"]["rejected"] == 0


def test_a_dead_part_blocks_the_rest_until_replayed_resent_or_remapped(cluster, gateway):
    """Two dossiers' follow-ups refused for good: their first parts end dead, the parts after them wait.

    Everything else is delivered first, so that only these two records meet the tightened limit: two
    different records refused is a record fault (a ``partial`` run with dead letters), not the
    configuration fault that a whole backlog refused alike is (see the next test)."""
    from lienthong.dead import DeadFilter, replay

    app = cluster.motcua.app
    resend_id, remap_id = app.dossier_id(5), app.dossier_id(6)
    codes = {dossier_id: app.get_dossier(dossier_id)["code"] for dossier_id in (resend_id, remap_id)}
    first = gateway.run("dossier_sync")
    assert first.status == "succeeded" and first.checks() == []
    before = {code: _steps_at_portal(cluster, code) for code in codes.values()}
    earlier = {code: len(_progress_rows(gateway, code)) for code in codes.values()}
    assert all(before.values()) and all(earlier.values())  # the dossiers' own steps were delivered

    for dossier_id in (resend_id, remap_id):
        sim_post(cluster.motcua, f"/_sim/dossiers/{dossier_id}/steps", {"count": 23})
    cluster.dvcqg.app.configure({"max_progress_per_call": 5})  # the portal tightens its limit: -1
    run = gateway.run("dossier_sync")
    # The portal answered and refused two records for good: partial, not succeeded (never green when
    # undelivered), not failed (two records in a row are below the configuration-fault threshold).
    assert run.status == "partial" and run.checks() == [] and run.deliver.config_faults == []
    for code in codes.values():
        assert [row.state for row in _progress_rows(gateway, code)[earlier[code] :]] == [
            states.DEAD,
            states.PENDING,
            states.PENDING,
        ]
        assert _steps_at_portal(cluster, code) == before[code]
    cluster.dvcqg.app.configure({"max_progress_per_call": 10})

    dead_of = {code: _progress_rows(gateway, code)[earlier[code]].id for code in codes.values()}
    replay(gateway, DeadFilter(ids=(dead_of[codes[resend_id]],)), "tester")
    replay(gateway, DeadFilter(ids=(dead_of[codes[remap_id]],)), "tester", remap=True)

    expected = [f"Bước {k + 1}: xử lý hồ sơ" for k in range(23)]
    for code in codes.values():
        assert _steps_at_portal(cluster, code) == before[code] + expected
    resent = _progress_rows(gateway, codes[resend_id])[earlier[codes[resend_id]] :]
    assert [row.state for row in resent] == [states.ACKNOWLEDGED] * 3
    remapped = _progress_rows(gateway, codes[remap_id])[earlier[codes[remap_id]] :]
    assert [row.state for row in remapped] == [states.SUPERSEDED] * 3 + [states.ACKNOWLEDGED] * 3
    assert [row.item_count for row in remapped[3:]] == [10, 10, 3]


def test_a_backlog_refused_alike_for_a_tightened_limit_is_held_as_a_configuration_fault(cluster, gateway):
    """The portal's limit falls below the gateway's while the whole backlog is queued: every call the
    gateway packs (up to its 10 items) is refused with the same answer, record after record.  That is
    the target file's limit disagreeing with the portal, not bad records: the run fails naming it, no
    row ends dead, and once the limits agree again the next run delivers everything without a replay."""
    app = cluster.motcua.app
    dossier_id = app.dossier_id(5)
    sim_post(cluster.motcua, f"/_sim/dossiers/{dossier_id}/steps", {"count": 23})
    code = app.get_dossier(dossier_id)["code"]
    cluster.dvcqg.app.configure({"max_progress_per_call": 5})
    run = gateway.run("dossier_sync")
    assert run.status == "failed" and run.exit_code == 4
    assert len(run.deliver.config_faults) == 1 and "CapNhatTienDoHoSoMC" in run.deliver.config_faults[0]
    with gateway.store.session() as session:
        progress = session.execute(
            select(OutboxRow.state, func.count())
            .where(OutboxRow.operation == PROGRESS)
            .group_by(OutboxRow.state)
        ).all()
    assert dict(progress).keys() == {states.PENDING}  # held, none dead, none sent
    assert _steps_at_portal(cluster, code) == []

    cluster.dvcqg.app.configure({"max_progress_per_call": 10})
    again = gateway.run("dossier_sync")
    assert again.status == "succeeded" and again.checks() == []
    assert _steps_at_portal(cluster, code) == [f"Bước {k + 1}: xử lý hồ sơ" for k in range(23)]
    assert [row.state for row in _progress_rows(gateway, code)] == [states.ACKNOWLEDGED] * 3
