"""The audit certifies what is sent: a payload swapped in the outbox (a plain text written without the
key, or another row's sealed payload) or altered at rest is never sent — the portal simulator receives nothing for it —
and its row goes to `review` with an integrity reason and a ledger entry; the other rows go on
(SQLite and PostgreSQL, the real engine against the simulators)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select, text

from lienthong import states
from lienthong.audit import verify_ledger
from lienthong.jsoncanon import canonical, digest
from lienthong.pipeline.runner import Gateway
from lienthong.settings import Settings
from lienthong.store.db import Store
from lienthong.store.models import LedgerEntry, OutboxRow
from tests.integration.conftest import MAPPINGS, received


def _raw(store, sql: str, **params):
    with store.engine.connect() as connection:
        return connection.execute(text(sql), params).all()


def _write(store, sql: str, **params) -> None:
    with store.engine.begin() as connection:
        connection.execute(text(sql), params)


@pytest.mark.motcua(total=8)
def test_a_swapped_payload_is_never_sent_and_goes_to_review(
    cluster, store_url, tmp_path, monkeypatch, pins_file
):
    for name, value in cluster.connection_env().items():
        monkeypatch.setenv(name, value)
    gateway = Gateway(
        Settings(data_dir=tmp_path, database_url=store_url, mappings_dir=MAPPINGS), Store(store_url)
    )
    try:
        assert gateway.run("dossier_sync", deliver=False).status == "succeeded"
        with gateway.store.session() as session:
            rows = session.execute(
                select(OutboxRow)
                .where(OutboxRow.operation == "DongBoHoSoMC", OutboxRow.parent_id.is_(None))
                .order_by(OutboxRow.id)
            ).scalars().all()  # fmt: skip
            plain, copied, honest, altered = rows[0], rows[1], rows[2], rows[3]
            forged = json.loads(plain.payload)
        # 1. A plain text written over a row's payload, its hash recomputed by the forger.
        forged["TrichYeuHoSo"] = "nội dung giả mạo"
        forged_text = canonical(forged)
        _write(
            gateway.store,
            "UPDATE outbox SET payload = :p, payload_hash = :h WHERE id = :i",
            p=forged_text,
            h=digest(forged_text),
            i=plain.id,
        )
        # 2. Another row's sealed payload copied over this one's (it decrypts: same key).
        ((sealed,),) = _raw(gateway.store, "SELECT payload FROM outbox WHERE id = :i", i=honest.id)
        _write(gateway.store, "UPDATE outbox SET payload = :p WHERE id = :i", p=sealed, i=copied.id)
        # 3. A sealed payload altered at rest (one character of its ciphertext): it must not stop the route.
        ((mine,),) = _raw(gateway.store, "SELECT payload FROM outbox WHERE id = :i", i=altered.id)
        flipped = mine[:-6] + ("A" if mine[-6] != "A" else "B") + mine[-5:]
        _write(gateway.store, "UPDATE outbox SET payload = :p WHERE id = :i", p=flipped, i=altered.id)

        summary = gateway.run("dossier_sync", skip_extract=True)
        assert summary.status == "succeeded"

        # Never sent: the portal holds nothing for either; the honest row went out.
        for key in (plain.record_key, copied.record_key, altered.record_key):
            assert received(cluster.dvcqg, mahoso=key)["dossiers"] == {}, key
        assert honest.record_key in received(cluster.dvcqg, mahoso=honest.record_key)["dossiers"]
        by_id = {
            row_id: (state, error, attempts)
            for row_id, state, error, attempts in _raw(
                gateway.store, "SELECT id, state, last_error, attempts FROM outbox WHERE id IN (:a, :b, :c, :d)",
                a=plain.id, b=copied.id, c=honest.id, d=altered.id,
            )
        }  # fmt: skip
        assert by_id[plain.id][0] == by_id[copied.id][0] == states.REVIEW
        assert by_id[plain.id][1].startswith("integrity: payload not sealed while sealing is on")
        assert by_id[copied.id][1].startswith("integrity: payload does not match its payload_hash")
        assert by_id[altered.id][0] == states.REVIEW
        assert by_id[altered.id][1].startswith("integrity: sealed payload does not open")
        assert by_id[plain.id][2] == by_id[copied.id][2] == by_id[altered.id][2] == 0  # no attempt was made
        assert by_id[honest.id][0] == states.ACKNOWLEDGED

        # The ledger says so, with both digests; no attempt entry claims them sent.
        with gateway.store.session() as session:
            entries = session.execute(
                select(LedgerEntry).where(LedgerEntry.record_key.in_([plain.record_key, copied.record_key]))
            ).scalars().all()  # fmt: skip
        integrity = {e.record_key: json.loads(e.detail) for e in entries if e.event == "integrity"}
        assert integrity[copied.record_key]["expected_digest"] == copied.payload_hash
        assert integrity[copied.record_key]["found_digest"] == honest.payload_hash
        assert integrity[plain.record_key]["found_digest"] == digest(forged_text)
        assert not [e for e in entries if e.event == "attempt" and e.outcome == states.ACKNOWLEDGED]
        assert verify_ledger(gateway.store).ok  # the ledger is intact: it recorded the refusal
        from lienthong.audit.lineage import lineage

        shown = [step for step in lineage(gateway.store, copied.record_key) if step["event"] == "integrity"]
        assert [step["outcome"] for step in shown] == [states.REVIEW]
        assert shown[0]["detail"]["reason"] == "payload does not match its payload_hash"
    finally:
        gateway.store.dispose()
