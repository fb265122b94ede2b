"""Poison isolation (issue #17 item 1): a hostile record is quarantined alone, on SQLite and PostgreSQL.

The one-stop simulator serves, among clean dossiers, one dossier of each poison kind
(``simulators/motcua/poison.py``); the run must succeed, quarantine each of them with a reason
that names what is wrong (and quotes nothing of the record), deliver every other changed dossier
to the portal simulator, move the watermark past them, and find nothing to do the next time.
"""

from __future__ import annotations

import json

from sqlalchemy import select

from lienthong import states
from lienthong.store.models import QuarantineEntry, StagedRecord, Watermark
from tests.lifecycle.conftest import received, sim_post

#: kind -> words the quarantine reason must contain.
EXPECTED = {
    "lone_surrogate": ["summary", "lone surrogate U+D800"],
    "surrogate_field_name": ["field name", "lone surrogate"],
    "nul_text": ["summary", "NUL"],
    "nul_key": ["record key", "NUL"],
    "nul_field_name": ["field name", "NUL"],
    "control_chars": ["TrichYeuHoSo", "control character (U+0001)"],
    "empty_key": ["MaHoSo"],
    "long_key": ["record key", "500 characters"],
    "bad_bytes": ["summary", "not UTF-8 (0xFF)"],
    "huge": ["50,00", "bytes, more than"],
    "deep": ["nested more than 64 levels"],
    "bad_updated": ["updated time cannot be read"],
}


def _dossier_ids(app, count):
    return [app.dossier_id(i) for i in range(count)]


def test_hostile_records_are_quarantined_alone_and_the_route_goes_on(cluster, gateway):
    app = cluster.motcua.app
    first = gateway.run("dossier_sync")
    assert first.status == "succeeded" and first.checks() == []
    delivered_before = received(cluster.dvcqg)["dossiers"]
    assert len(delivered_before) == 40

    ids = _dossier_ids(app, 40)
    poisoned = dict(zip(EXPECTED, ids[: len(EXPECTED)], strict=True))
    clean_changed = ids[20:30]
    # Interleave: clean changes before and after the poisoned ones, so they share pages.
    for dossier_id in clean_changed[:5]:
        app.update_dossier(dossier_id, summary="Đã bổ sung giấy tờ lần 1")
    for kind, dossier_id in poisoned.items():
        sim_post(cluster.motcua, f"/_sim/dossiers/{dossier_id}/poison", {"kind": kind})
    for dossier_id in clean_changed[5:]:
        app.update_dossier(dossier_id, summary="Đã bổ sung giấy tờ lần 1")

    run = gateway.run("dossier_sync")
    assert run.status == "succeeded", run.error
    assert run.checks() == []
    assert run.extract.pulled == len(poisoned) + len(clean_changed)
    assert run.extract.staged == len(poisoned) + len(clean_changed)
    assert run.transform.quarantined == len(poisoned)
    assert run.transform.mapped == len(clean_changed)

    # Every clean change is at the portal.
    portal = received(cluster.dvcqg)["dossiers"]
    for dossier_id in clean_changed:
        code = app.get_dossier(dossier_id)["code"]
        assert portal[code]["data"]["TrichYeuHoSo"] == "Đã bổ sung giấy tờ lần 1"
    # The poisoned ones keep their last good version there, untouched.
    for dossier_id in poisoned.values():
        code = app.get_dossier(dossier_id)["code"]
        assert portal[code] == delivered_before[code]

    with gateway.store.session() as session:
        entries = session.execute(select(QuarantineEntry).order_by(QuarantineEntry.id)).scalars().all()
        staged = {row.id: row for row in session.execute(select(StagedRecord)).scalars()}
        mark = session.get(Watermark, "dossier_sync")
    assert len(entries) == len(poisoned)
    by_source = {staged[entry.staged_id].source_id: entry for entry in entries}
    for kind, dossier_id in poisoned.items():
        entry = by_source[dossier_id]
        assert entry.route == "dossier_sync" and entry.state == "open"
        for word in EXPECTED[kind]:
            assert word in entry.message, (kind, entry.message)
        summary = app.get_dossier(dossier_id)["summary"]
        assert summary not in entry.message  # a reason names, it does not quote
        assert staged[entry.staged_id].state == states.QUARANTINED
        assert len(entry.record_key) <= 200 and "\x00" not in entry.record_key
    stage_of = {kind: json.loads(by_source[i].errors)[0]["rule"] for kind, i in poisoned.items()}
    assert {k for k, rule in stage_of.items() if rule == "staging"} == {
        "lone_surrogate",
        "surrogate_field_name",
        "nul_text",
        "nul_key",
        "nul_field_name",
        "long_key",
        "bad_bytes",
        "huge",
        "deep",
        "bad_updated",
    }
    assert mark is not None and mark.source_updated == app.get_dossier(clean_changed[-1])["updatedDate"]

    # The next run is clean: nothing pulled again, nothing quarantined again.
    again = gateway.run("dossier_sync")
    assert again.status == "succeeded" and again.checks() == []
    assert again.extract.pulled == 0 and again.transform.quarantined == 0

    # A resync of the window pulls the poisoned records again and finds them unchanged.
    resync = gateway.run("dossier_sync", since="2025-12-01T00:00:00.000+0700")
    assert resync.status == "succeeded" and resync.checks() == []
    assert resync.extract.staged == 0 and resync.transform.quarantined == 0

    # Fixed at the source: the next run stages and delivers them.
    for dossier_id in poisoned.values():
        app.update_dossier(dossier_id, _poison=None, summary="Đã sửa tại nguồn")
    fixed = gateway.run("dossier_sync")
    assert fixed.status == "succeeded" and fixed.checks() == []
    assert fixed.transform.mapped == len(poisoned) and fixed.transform.quarantined == 0
    portal = received(cluster.dvcqg)["dossiers"]
    for dossier_id in poisoned.values():
        assert portal[app.get_dossier(dossier_id)["code"]]["data"]["TrichYeuHoSo"] == "Đã sửa tại nguồn"
