"""The three shipped routes end to end against the simulators over real HTTP, asserting on what the
targets received."""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from lienthong import states
from lienthong.store.models import OutboxRow, QuarantineEntry, StagedRecord, Tombstone
from tests.integration.conftest import received

VN = ZoneInfo("Asia/Ho_Chi_Minh")
STATUS_TO_PORTAL = {i: str(i + 1) for i in range(10)}  # the province table of shape.md (ids 0-9 -> 1-10)


def portal_time(iso: str | None) -> str | None:
    if not iso:
        return None
    return datetime.fromisoformat(iso).astimezone(VN).strftime("%Y%m%d%H%M%S")


def source_dossiers(cluster) -> list[dict]:
    app = cluster.motcua.app
    return [app.get_dossier(app.dossier_id(i)) for i in range(300)]


def test_dossier_sync_delivers_every_dossier_field_by_field(cluster, gateway):
    summary = gateway.run("dossier_sync")
    assert summary.checks() == []
    assert summary.transform.mapped == 300 and summary.transform.quarantined == 0
    portal = received(cluster.dvcqg)
    assert len(portal["dossiers"]) == 300
    for dossier in source_dossiers(cluster)[::15]:
        held = portal["dossiers"][dossier["code"]]
        data = held["data"]
        assert held["writes"] == 1 and held["repeats"] == 0
        assert data["ChuHoSo"] == unicodedata.normalize("NFC", dossier["applicant"]["data"]["fullname"])
        assert data["MaTTHC"] == dossier["procedure"]["nationCode"]
        assert data["TrangThaiHoSo"] == STATUS_TO_PORTAL[dossier["dossierStatus"]["id"]]
        assert data["NgayNopHoSo"] == portal_time(dossier["appliedDate"])
        assert data.get("NgayHenTra") == portal_time(dossier.get("appointmentDate"))
        if dossier.get("completedDate"):
            assert data["NgayKetThucXuLy"] == portal_time(dossier["completedDate"])
        assert data["DinhDanhCHS"][0]["SoDinhDanh"] == dossier["applicant"]["data"]["identityNumber"]
        steps = portal["progress"].get(dossier["code"], [])
        assert len(steps) == len(dossier["tasks"])


def test_second_run_without_changes_sends_nothing(cluster, gateway):
    gateway.run("dossier_sync")
    before = received(cluster.dvcqg, summary=1)["totals"]
    second = gateway.run("dossier_sync")
    assert second.extract.pulled == 0 and second.transform.rows_created == 0 and second.deliver.calls == 0
    assert received(cluster.dvcqg, summary=1)["totals"] == before


def test_a_change_is_sent_as_one_update_and_withdrawal_maps_to_7(cluster, gateway):
    gateway.run("dossier_sync")
    app = cluster.motcua.app
    victim = app.get_dossier(app.dossier_id(42))
    app.withdraw_dossier(victim["id"])
    untouched = app.get_dossier(app.dossier_id(43))["code"]
    summary = gateway.run("dossier_sync")
    assert summary.extract.pulled == 1 and summary.rows.get(states.ACKNOWLEDGED, 0) >= 1
    portal = received(cluster.dvcqg)
    held = portal["dossiers"][victim["code"]]
    assert held["data"]["TrangThaiHoSo"] == "7" and held["writes"] == 2 and held["repeats"] == 0
    assert portal["dossiers"][untouched]["writes"] == 1


def test_an_unmapped_field_change_sends_nothing(cluster, gateway):
    gateway.run("dossier_sync")
    app = cluster.motcua.app
    dossier = app.get_dossier(app.dossier_id(5))
    app.update_dossier(dossier["id"], applicant={"data": {"birthday": "1970-01-01"}})  # not mapped
    summary = gateway.run("dossier_sync")
    assert summary.extract.pulled == 1 and summary.transform.unchanged == 1 and summary.deliver.calls == 0


@pytest.mark.motcua(mess_rate=0.25)
def test_messy_records_are_normalised_or_quarantined_with_route_key_field_rule(cluster, gateway):
    summary = gateway.run("dossier_sync")
    assert summary.checks() == []
    assert summary.transform.quarantined > 0
    portal = received(cluster.dvcqg)["dossiers"]
    app = cluster.motcua.app
    checked = 0
    for dossier_id in app.find_mess("nfd", limit=5):
        dossier = app.get_dossier(dossier_id)
        if dossier is None or dossier["code"] not in portal:
            continue
        checked += 1
        name = portal[dossier["code"]]["data"]["ChuHoSo"]
        assert unicodedata.is_normalized("NFC", name) and name == unicodedata.normalize("NFC", name)
    assert checked > 0
    with gateway.store.session() as session:
        entries = list(session.execute(select(QuarantineEntry)).scalars())
    assert entries
    for entry in entries:
        assert entry.message.startswith(f"route dossier_sync, record {entry.record_key}: field ")
        assert "rule " in entry.message
    wrong_length = [e for e in entries if "SoDinhDanh" in e.message]
    assert wrong_length and all("12 characters" in e.message for e in wrong_length)
    assert not any(re.search(r"\d{9,}", e.message) for e in entries)  # never the identity number itself


def test_catalogue_sync_publishes_the_online_procedures(cluster, gateway):
    summary = gateway.run("catalogue_sync")
    assert summary.checks() == []
    catalogue = received(cluster.dvcqg)["catalogue"]
    assert len(catalogue) == summary.transform.mapped > 100
    assert summary.transform.filtered > 0  # procedures not offered online are not published
    entry = next(iter(catalogue.values()))["data"]
    assert entry["MucDo"] in ("TOAN_TRINH", "MOT_PHAN") and len(entry["NgayCapNhat"]) == 14


def test_birth_registrations_get_cards_and_a_later_correction_goes_to_review(cluster, gateway):
    summary = gateway.run("birth_bhyt")
    assert summary.checks() == []
    cards = received(cluster.bhxh)["registrations"]
    assert len(cards) == summary.rows[states.ACKNOWLEDGED] > 0
    key, card = next(iter(cards.items()))
    assert len(card["card"]["maThe"]) == 15
    with gateway.store.session() as session:
        row = session.execute(select(OutboxRow).where(OutboxRow.record_key == key)).scalar_one()
        assert '"maThe"' in row.response
        staged = session.get(StagedRecord, row.staged_id)
        source_id = staged.source_id
    cluster.motcua.app.update_dossier(
        source_id, eForm=_renamed_child(cluster.motcua.app.get_dossier(source_id))
    )
    correction = gateway.run("birth_bhyt")
    assert correction.rows == {**{s: 0 for s in states.OUTBOX_STATES}, states.REVIEW: 1}
    assert received(cluster.bhxh)["registrations"][key]["writes"] == 1


def _renamed_child(dossier: dict) -> str:
    import json

    form = json.loads(dossier["eForm"])
    form["hoTich"]["treEm"]["hoTen"] = form["hoTich"]["treEm"]["hoTen"] + " Anh"
    return json.dumps(form, ensure_ascii=False)


def test_resync_raises_a_tombstone_for_a_deleted_dossier(cluster, gateway):
    gateway.run("dossier_sync")
    app = cluster.motcua.app
    victim = app.get_dossier(app.dossier_id(77))
    app.delete_dossier(victim["id"])
    summary = gateway.run("dossier_sync", since="2025-01-01T00:00:00.000+0700")
    assert summary.extract.tombstones == 1
    with gateway.store.session() as session:
        tombstone = session.execute(select(Tombstone)).scalar_one()
    assert (tombstone.record_key, tombstone.state) == (victim["code"], "review")
    assert victim["code"] in received(cluster.dvcqg)["dossiers"]  # never deleted at the target
