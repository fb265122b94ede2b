"""Newer versions settle older alarms, and replays never go backwards (issue #17, items 2 and the
replay half of 3): the fix-at-source flows for a quarantined dossier and for a dead letter, on SQLite
and on PostgreSQL, against the simulators over HTTP."""

from __future__ import annotations

import json

from sqlalchemy import select

from lienthong import metrics, states
from lienthong.status import gateway_status
from lienthong.store.models import LedgerEntry, OutboxRow, QuarantineEntry, Replay, StagedRecord
from tests.lifecycle import settle_env
from tests.lifecycle.settle_env import edit_yaml, set_status_code

ROUTE = "dossier_sync"
env_factory, mappings = settle_env.env_factory, settle_env.mappings  # the fixtures
MAIN = ("dvcqg", "DongBoHoSoMC")


def _route_status(gateway) -> dict:
    (route,) = [r for r in gateway_status(gateway)["routes"] if r["route"] == ROUTE]
    return route


def _ledger(gateway, event: str, key: str) -> list[dict]:
    with gateway.store.session() as session:
        rows = session.execute(
            select(LedgerEntry)
            .where(LedgerEntry.event == event, LedgerEntry.record_key == key)
            .order_by(LedgerEntry.seq)
        ).scalars()
        return [{"outcome": r.outcome, "target": r.target, **json.loads(r.detail)} for r in rows]


def _source_id(gateway, key: str) -> str:
    with gateway.store.session() as session:
        return session.execute(
            select(StagedRecord.source_id).where(StagedRecord.record_key == key).limit(1)
        ).scalar_one()


def test_a_dossier_corrected_at_the_source_closes_its_quarantine_entry(env_factory):
    env = env_factory(total=30, mess_rate=0.25, mess_kinds=["identity_length"])
    gateway = env.gateway
    first = gateway.run(ROUTE, wait_for_retries=0)
    quarantined = first.transform.quarantined
    assert quarantined >= 2, "the seed gives no identity-number mess; adapt the test"
    listed = env.cli_json("quarantine", "list")
    assert len(listed) == quarantined
    assert _route_status(gateway)["quarantine_open"] == quarantined
    assert metrics.collect(gateway.store).quarantine_open == {ROUTE: quarantined}
    entry = listed[0]
    key = entry["record_key"]
    assert key not in env.portal()

    # The fix, at the source: the identity number gets its 12 digits.
    dossier_id = _source_id(gateway, key)
    number = env.source_get(dossier_id)["applicant"]["data"]["identityNumber"]
    fixed = (number + "0")[:12] if len(number) < 12 else number[:12]
    env.source_patch(dossier_id, {"applicant": {"data": {"identityNumber": fixed}}})
    second = gateway.run(ROUTE, wait_for_retries=0)
    assert second.checks() == [] and second.extract.staged == 1

    # Delivered, and the alarm is closed everywhere.
    assert key in env.portal()
    with gateway.store.session() as session:
        closed = session.get(QuarantineEntry, entry["id"])
        assert closed.state == "superseded" and closed.resolved_at is not None
        newest = session.execute(
            select(StagedRecord)
            .where(StagedRecord.record_key == key)
            .order_by(StagedRecord.id.desc())
            .limit(1)
        ).scalar_one()
        acked = session.execute(
            select(OutboxRow).where(OutboxRow.record_key == key, OutboxRow.operation == MAIN[1])
        ).scalar_one()
    assert newest.id > closed.staged_id and acked.state == states.ACKNOWLEDGED
    assert [e["record_key"] for e in env.cli_json("quarantine", "list")].count(key) == 0
    assert len(env.cli_json("quarantine", "list")) == quarantined - 1
    assert _route_status(gateway)["quarantine_open"] == quarantined - 1
    assert metrics.collect(gateway.store).quarantine_open == {ROUTE: quarantined - 1}
    (settled,) = _ledger(gateway, "superseded", key)
    assert settled["kind"] == "quarantine" and settled["item_id"] == entry["id"]
    assert settled["by_staged_id"] == newest.id and settled["by_row_id"] == acked.id
    assert "acknowledged" in settled["reason"]

    # A replay of the stale entry refuses, naming the newer version; nothing is mapped or sent.
    before = env.portal()[key]["writes"]
    refused = env.cli("quarantine", "replay", str(entry["id"]), ok=False)
    assert refused.exit_code == 1
    message = " ".join(refused.output.split())
    assert f"staged version #{newest.id}" in message and "acknowledged by dvcqg as version 1" in message
    assert "--force-stale" in message
    with gateway.store.session() as session:
        assert session.get(QuarantineEntry, entry["id"]).state == "superseded"
        assert session.execute(select(Replay)).first() is None

    # --force-stale is recorded and says what it overwrites (the old version fails mapping again).
    env.cli("quarantine", "replay", str(entry["id"]), "--force-stale", "--actor", "kiem-thu", "--note", "thử")
    with gateway.store.session() as session:
        (replay,) = session.execute(select(Replay)).scalars()
    assert replay.mode == "remap-stale" and replay.actor == "kiem-thu"
    assert replay.note.startswith("thử | --force-stale") and f"#{newest.id}" in replay.note
    (replayed,) = _ledger(gateway, "replayed", key)
    assert replayed["force_stale"]["overwrites"]["staged_id"] == newest.id
    assert env.portal()[key]["writes"] == before  # the old version was quarantined again, not sent


def test_a_newer_acknowledged_version_settles_a_dead_letter_and_a_replay_of_it_refuses(env_factory):
    """Version 3 of a dossier is refused by the portal (a status mapped to a code it does not know),
    version 4 (corrected at the source) is acknowledged: version 3's dead letter closes."""
    env = env_factory(total=20, mess_rate=0.0)
    edit_yaml(env.mappings / "dossier_sync.yaml", lambda route: route["target"].pop("schema"))
    set_status_code(env.mappings, 7, 44)  # "Dừng xử lý" → a code the portal refuses
    gateway = env.new_gateway()
    gateway.run(ROUTE, wait_for_retries=0)
    portal = env.portal()
    key = next(k for k, v in sorted(portal.items()) if v["data"]["TrangThaiHoSo"] not in ("8", "44"))
    dossier_id = _source_id(gateway, key)
    source = env.source_get(dossier_id)

    env.source_patch(dossier_id, {"summary": source["summary"] + " (bổ sung)"})  # version 2: delivered
    gateway.run(ROUTE, wait_for_retries=0)
    env.source_patch(dossier_id, {"dossierStatus": {"id": 7, "name": "Dừng xử lý"}})  # version 3: refused
    gateway.run(ROUTE, wait_for_retries=0)
    with gateway.store.session() as session:
        dead = session.execute(
            select(OutboxRow).where(
                OutboxRow.record_key == key, OutboxRow.operation == MAIN[1], OutboxRow.seq == 3
            )
        ).scalar_one()
    assert dead.state == states.DEAD
    dead_before = len(env.cli_json("dead", "list"))
    assert dead.id in [row["id"] for row in env.cli_json("dead", "list")]
    gauge_before = {t.target: t.dead for t in metrics.collect(gateway.store).targets}["dvcqg"]
    status_before = _route_status(gateway)["outbox"][states.DEAD]
    assert gauge_before == status_before == dead_before >= 1

    env.source_patch(dossier_id, {"dossierStatus": source["dossierStatus"]})  # version 4: the fix
    summary = gateway.run(ROUTE, wait_for_retries=0)
    assert summary.checks() == []
    with gateway.store.session() as session:
        rows = {
            row.seq: row
            for row in session.execute(
                select(OutboxRow).where(OutboxRow.record_key == key, OutboxRow.operation == MAIN[1])
            ).scalars()
        }
    assert rows[4].state == states.ACKNOWLEDGED and rows[3].state == states.SUPERSEDED
    assert "version 4" in rows[3].last_error
    assert env.portal()[key]["data"]["TrangThaiHoSo"] == portal[key]["data"]["TrangThaiHoSo"]

    # Counts drop everywhere: dead list, status, the lienthong_outbox_dead gauge.
    assert dead.id not in [row["id"] for row in env.cli_json("dead", "list")]
    assert len(env.cli_json("dead", "list")) == dead_before - 1
    assert _route_status(gateway)["outbox"][states.DEAD] == status_before - 1
    taken = metrics.collect(gateway.store)
    assert {t.target: t.dead for t in taken.targets}["dvcqg"] == gauge_before - 1
    assert f'lienthong_outbox_dead{{target="dvcqg"}} {float(gauge_before - 1)}' in metrics.to_prometheus(
        taken
    )
    settled = [e for e in _ledger(gateway, "superseded", key) if e["kind"] == "outbox"]
    assert [(e["item_id"], e["previous_state"], e["by_row_id"], e["by_version"]) for e in settled] == [
        (dead.id, states.DEAD, rows[4].id, 4)
    ]

    # A replay of version 3 refuses, naming version 4; nothing is sent.
    writes = env.portal()[key]["writes"]
    refused = env.cli("dead", "replay", str(dead.id), ok=False)
    message = " ".join(refused.output.split())
    assert refused.exit_code == 1 and "version 4" in message and f"row {rows[4].id}" in message, message
    assert "--force-stale" in message
    # --force-stale: recorded, says what it overwrites, queued as version 5 after the acknowledged one.
    env.cli("dead", "replay", str(dead.id), "--force-stale", "--actor", "kiem-thu")
    with gateway.store.session() as session:
        (replay,) = session.execute(select(Replay)).scalars()
        newest = session.execute(
            select(OutboxRow).where(
                OutboxRow.record_key == key, OutboxRow.operation == MAIN[1], OutboxRow.seq == 5
            )
        ).scalar_one()
    assert replay.mode == "resend-stale" and "overwrites version 4" in replay.note
    assert newest.payload_hash == dead.payload_hash and newest.state == states.DEAD  # refused again
    (replayed,) = _ledger(gateway, "replayed", key)
    assert replayed["force_stale"]["overwrites"]["version"] == 4
    assert env.portal()[key]["writes"] == writes  # the portal refused it: its content is still version 4's
