"""The settling rules at their edges (docs/operations.md "The rules"), on SQLite and PostgreSQL, with
the simulators over HTTP: the newest quarantine entry supersedes older ones even when it is quarantined
itself; a filtered newer version closes the older dead letter; follow-ups left behind a superseded
parent are superseded once a newer version is acknowledged, and a newer payload equal to a dead one
settles nothing."""

from __future__ import annotations

import json

from sqlalchemy import select

from lienthong import states
from lienthong.store.models import LedgerEntry, OutboxRow, QuarantineEntry, StagedRecord
from tests.lifecycle import settle_env
from tests.lifecycle.settle_env import edit_yaml, set_status_code

ROUTE = "dossier_sync"
MAIN, PROGRESS = "DongBoHoSoMC", "CapNhatTienDoHoSoMC"
env_factory, mappings = settle_env.env_factory, settle_env.mappings  # the fixtures


def _source_id(gateway, key: str) -> str:
    with gateway.store.session() as session:
        return session.execute(
            select(StagedRecord.source_id).where(StagedRecord.record_key == key).limit(1)
        ).scalar_one()


def _rows(gateway, key: str, operation: str) -> dict[int, OutboxRow]:
    with gateway.store.session() as session:
        rows = session.execute(
            select(OutboxRow).where(OutboxRow.record_key == key, OutboxRow.operation == operation)
        ).scalars()
        return {row.seq: row for row in rows}


def _superseded(gateway, key: str) -> list[dict]:
    with gateway.store.session() as session:
        entries = session.execute(
            select(LedgerEntry).where(LedgerEntry.event == "superseded", LedgerEntry.record_key == key)
        ).scalars()
        return [json.loads(e.detail) for e in entries]


def _portal_refuses_status_7(env):
    edit_yaml(env.mappings / "dossier_sync.yaml", lambda route: route["target"].pop("schema"))
    set_status_code(env.mappings, 7, 44)


def test_the_newest_quarantine_entry_supersedes_the_older_even_when_quarantined(env_factory):
    env = env_factory(total=30, mess_rate=0.25, mess_kinds=["identity_length"])
    env.gateway.run(ROUTE, wait_for_retries=0)
    (first, *_) = env.cli_json("quarantine", "list")
    dossier_id = _source_id(env.gateway, first["record_key"])
    number = env.source_get(dossier_id)["applicant"]["data"]["identityNumber"]
    wrong_again = "9" * (13 if len(number) == 11 else 11)
    env.source_patch(dossier_id, {"applicant": {"data": {"identityNumber": wrong_again}}})
    env.gateway.run(ROUTE, wait_for_retries=0)
    with env.gateway.store.session() as session:
        entries = list(
            session.execute(
                select(QuarantineEntry)
                .where(QuarantineEntry.record_key == first["record_key"])
                .order_by(QuarantineEntry.id)
            ).scalars()
        )
    assert [e.state for e in entries] == ["superseded", "open"]
    (settled,) = _superseded(env.gateway, first["record_key"])
    assert settled["item_id"] == entries[0].id and settled["by_staged_id"] == entries[1].staged_id
    assert "quarantined at mapping" in settled["reason"]
    # The open entry is the newest one; replaying it is allowed (it is not stale), the old one refuses.
    refused = env.cli("quarantine", "replay", str(entries[0].id), ok=False)
    assert refused.exit_code == 1 and f"#{entries[1].staged_id}" in refused.output
    env.cli("quarantine", "replay", str(entries[1].id))


def test_a_filtered_newer_version_closes_the_older_dead_letter(env_factory):
    env = env_factory(total=20, mess_rate=0.0)
    _portal_refuses_status_7(env)
    # Withdrawn dossiers leave this province's route: a newer version that is withdrawn is filtered.
    edit_yaml(
        env.mappings / "dossier_sync.yaml",
        lambda route: route.__setitem__("select", [{"path": "dossierStatus.id", "not_equals": 6}]),
    )
    gateway = env.new_gateway()
    gateway.run(ROUTE, wait_for_retries=0)
    key = next(
        k for k, v in sorted(env.portal().items()) if v["data"]["TrangThaiHoSo"] not in ("7", "8", "44")
    )
    dossier_id = _source_id(gateway, key)
    env.source_patch(dossier_id, {"dossierStatus": {"id": 7, "name": "Dừng xử lý"}})
    gateway.run(ROUTE, wait_for_retries=0)
    assert _rows(gateway, key, MAIN)[2].state == states.DEAD

    env.source_patch(dossier_id, {"dossierStatus": {"id": 6, "name": "Công dân rút hồ sơ"}})
    summary = gateway.run(ROUTE, wait_for_retries=0)
    assert summary.transform.filtered == 1
    rows = _rows(gateway, key, MAIN)
    assert rows[2].state == states.SUPERSEDED and "outside the route's selection" in rows[2].last_error
    assert key not in [row["record_key"] for row in env.cli_json("dead", "list")]
    (settled,) = [e for e in _superseded(gateway, key) if e["kind"] == "outbox"]
    assert settled["item_id"] == rows[2].id and settled["previous_state"] == states.DEAD


def test_follow_ups_left_behind_a_superseded_parent_are_superseded_and_equal_payloads_settle_nothing(
    env_factory,
):
    env = env_factory(total=20, mess_rate=0.0)
    _portal_refuses_status_7(env)
    gateway = env.new_gateway()
    gateway.run(ROUTE, wait_for_retries=0)
    portal = env.portal()
    key = next(k for k, v in sorted(portal.items()) if v["data"]["TrangThaiHoSo"] not in ("7", "8", "44"))
    dossier_id = _source_id(gateway, key)
    source = env.source_get(dossier_id)
    assert source["tasks"], "the dossier has no processing steps; adapt the test"

    # Version 2: refused (status 7), with a changed step: its progress row waits behind it (blocked).
    tasks = [dict(source["tasks"][0], name=source["tasks"][0]["name"] + " (sửa)"), *source["tasks"][1:]]
    env.source_patch(dossier_id, {"dossierStatus": {"id": 7, "name": "Dừng xử lý"}, "tasks": tasks})
    gateway.run(ROUTE, wait_for_retries=0)
    main, progress = _rows(gateway, key, MAIN), _rows(gateway, key, PROGRESS)
    assert main[2].state == states.DEAD and progress[2].state == states.PENDING
    assert progress[2].parent_id == main[2].id

    # Version 3 maps to the same payload as the dead version 2 (a change to an unmapped field): not a
    # delivery, nothing is settled.
    env.source_patch(dossier_id, {"receivingPlace": "quầy 2"})
    gateway.run(ROUTE, wait_for_retries=0)
    assert _rows(gateway, key, MAIN)[2].state == states.DEAD and len(_rows(gateway, key, MAIN)) == 2

    # Version 4: corrected status and no steps any more: acknowledged; the dead version 2 and the progress
    # row left behind it are superseded.
    env.source_patch(dossier_id, {"dossierStatus": source["dossierStatus"], "tasks": []})
    gateway.run(ROUTE, wait_for_retries=0)
    main, progress = _rows(gateway, key, MAIN), _rows(gateway, key, PROGRESS)
    assert main[3].state == states.ACKNOWLEDGED and main[2].state == states.SUPERSEDED
    assert progress[2].state == states.SUPERSEDED and "left behind" in progress[2].last_error
    assert progress[1].state == states.ACKNOWLEDGED
    settled = {(e["item_id"], e["previous_state"], e.get("by_row_id")) for e in _superseded(gateway, key)}
    assert settled == {(main[2].id, states.DEAD, main[3].id), (progress[2].id, states.PENDING, main[3].id)}
