"""Sealing and the archive (key rotation keeps old bodies readable), retention (the chain still
verifies), and exports verified offline with the public key alone."""

from __future__ import annotations

import base64
import io
import json
import os

import pytest
from sqlalchemy import select, text

from lienthong import states
from lienthong.audit import archive, keyring, verify_ledger
from lienthong.audit.chain import append_now
from lienthong.audit.checkpoints import make_checkpoint
from lienthong.audit.config import config_for
from lienthong.audit.export import export
from lienthong.audit.rekey import rekey
from lienthong.audit.retention import purge
from lienthong.audit.verify import verify_export
from lienthong.clock import utcnow
from lienthong.jsoncanon import digest
from lienthong.store.models import ArchivedBody, OutboxRow, StagedRecord
from lienthong.store.staging import PulledRecord, stage_page
from tests.audit.conftest import sample_events

CCCD = "083185001234"
A = digest('{"a":1}')
B_TEXT = '{"cccd":"083185001234"}'
B = digest(B_TEXT)


def _key(key_id: str) -> str:
    return f"{key_id}:{base64.b64encode(os.urandom(32)).decode()}"


@pytest.fixture()
def keys(monkeypatch):
    """Configured keys (LIENTHONG_ARCHIVE_KEYS) instead of the generated default."""
    first = _key("k2025")

    def use(value: str) -> None:
        monkeypatch.setenv(keyring.ENV_KEYS, value)
        keyring.forget_all()

    use(first)
    yield use, first
    keyring.forget_all()


def _raw(store, sql: str):
    with store.engine.connect() as connection:
        return connection.execute(text(sql)).all()


def _stage(store, n: int, start: int = 0) -> None:
    records = [
        PulledRecord(
            f"HS-{i}", f"id{i}", "2025-01-01T00:00:00.000+0700", {"code": f"HS-{i}", "cccd": CCCD, "n": i}
        )
        for i in range(start, start + n)
    ]
    stage_page(store, "dossier_sync", records, run_id=None, mark=None)


def test_staged_bodies_are_sealed_at_rest_and_read_plain(audited, keys):
    _stage(audited, 3)
    raw = [body for (body,) in _raw(audited, "SELECT body FROM staged_records")]
    assert all(body.startswith("enc:2:k2025:") and CCCD not in body for body in raw)
    with audited.session() as session:
        bodies = session.execute(select(StagedRecord.body).order_by(StagedRecord.id)).scalars().all()
    assert json.loads(bodies[0]) == {"code": "HS-0", "cccd": CCCD, "n": 0}
    # Staging was recorded: one "pulled" entry per new version, digests only.
    entries = _raw(audited, "SELECT event, record_key, detail FROM audit_ledger ORDER BY seq")
    assert [e[0] for e in entries] == ["pulled"] * 3 and all(CCCD not in e[2] for e in entries)


def test_key_rotation_keeps_old_bodies_readable_and_rekey_moves_them(audited, keys):
    use, first = keys
    _stage(audited, 2)
    with audited.engine.begin() as connection:
        archive.put_many(
            connection,
            audited,
            [(A, "request", _seal(audited, '{"a":1}', kind="request", digest=A))],
        )
    second = _key("k2026")
    use(f"{second},{first}")  # the new key first, the old one kept
    _stage(audited, 2, start=2)
    ids = sorted({body.split(":")[2] for (body,) in _raw(audited, "SELECT body FROM staged_records")})
    assert ids == ["k2025", "k2026"]
    with audited.session() as session:
        assert len([json.loads(b) for b in session.execute(select(StagedRecord.body)).scalars()]) == 4
    assert archive.get(audited, A) == '{"a":1}'
    counts = rekey(audited)
    assert counts["staged_records"] == 2 and counts["audit_archive"] == 1
    ((rekeyed,),) = _raw(audited, "SELECT body FROM audit_archive")
    assert rekeyed.startswith(f"enc:3:k2026:request:{A}:")  # still bound to its digest after rotation
    use(second)  # the old key retired
    with audited.session() as session:
        bodies = [json.loads(b) for b in session.execute(select(StagedRecord.body)).scalars()]
    assert sorted(b["n"] for b in bodies) == [0, 1, 2, 3]
    assert archive.get(audited, A) == '{"a":1}'


def _seal(store, text_: str, **binding) -> str:
    from lienthong.audit.config import seal_for

    return seal_for(store, text_, **binding)


def test_retention_purges_bodies_and_the_chain_still_verifies(audited, keys):
    _stage(audited, 5)
    with audited.engine.begin() as connection:
        archive.put_many(connection, audited, [(B, "request", _seal(audited, B_TEXT))])
        connection.execute(
            text("UPDATE staged_records SET state = 'mapped' WHERE record_key IN ('HS-0', 'HS-1', 'HS-2')")
        )
        connection.execute(text("UPDATE staged_records SET state = 'quarantined' WHERE record_key = 'HS-3'"))
    # HS-2 is mapped but its delivery is a dead letter: `dead replay --remap` maps its body again.
    with audited.session() as session:
        dead_version = session.execute(
            select(StagedRecord.id).where(StagedRecord.record_key == "HS-2")
        ).scalar_one()
        now = utcnow()
        session.add(
            OutboxRow(
                route="dossier_sync", target="dvcqg", operation="DongBoHoSoMC", record_key="HS-2", seq=1,
                payload="{}", payload_hash="h", item_count=1, mapping_version="v", idempotency_key="k",
                staged_id=dead_version, state=states.DEAD, attempts=3, created_at=now, updated_at=now,
            )
        )  # fmt: skip
    make_checkpoint(audited, config_for(audited))
    counts = purge(audited, 0, "auditor")
    assert counts["archived_bodies"] == 1 and counts["staged_bodies"] == 2
    assert archive.get(audited, B) is None
    with audited.session() as session:
        assert session.execute(select(ArchivedBody.digest)).scalars().all() == [B]  # digest stays
        bodies = dict(session.execute(select(StagedRecord.record_key, StagedRecord.body)).all())
        assert set(session.execute(select(StagedRecord.content_hash)).scalars()) != {None}
    assert bodies["HS-0"] == bodies["HS-1"] == "null"
    # Kept: the dead letter's version, the quarantined one, the one still waiting to be mapped.
    assert [json.loads(bodies[k])["code"] for k in ("HS-2", "HS-3", "HS-4")] == ["HS-2", "HS-3", "HS-4"]
    result = verify_ledger(audited)
    assert result.ok, result.problem
    assert _raw(audited, "SELECT event, actor FROM audit_ledger ORDER BY seq DESC")[0] == ("purge", "auditor")


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_an_export_verifies_offline_and_an_edited_line_fails(ledger, tmp_path, fmt):
    config = config_for(ledger)
    make_checkpoint(ledger, config)  # covers seq 20
    append_now(ledger, sample_events(5, start=100))
    make_checkpoint(ledger, config)  # covers seq 25
    # A window that starts mid-chain: seqs 6..25, using the times of the entries.
    with ledger.engine.connect() as connection:
        start = connection.execute(text("SELECT at FROM audit_ledger WHERE seq = 6")).scalar()
    if isinstance(start, str):
        from datetime import datetime

        start = datetime.fromisoformat(start)
    buffer = io.StringIO()
    header = export(ledger, buffer, fmt=fmt, start=start)
    assert header["first_seq"] == 6 and header["last_seq"] == 25 and header["prev_hash"] != "0" * 64
    path = tmp_path / f"export.{fmt}"
    path.write_text(buffer.getvalue(), encoding="utf-8")
    public_key = config.public_key_file
    ok = verify_export(path, public_key)
    assert ok.ok, ok.problem
    assert (ok.entries, ok.first_seq, ok.last_seq, ok.checkpoints) == (20, 6, 25, 2)

    lines = path.read_text(encoding="utf-8").splitlines()
    target = next(i for i, line in enumerate(lines) if "-0103" in line)  # seq 24: record 0103
    lines[target] = lines[target].replace("acknowledged", "dead", 1)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    broken = verify_export(path, public_key)
    assert not broken.ok and broken.reason == "edited" and broken.broken_seq == 24

    # With another key the (unedited) export's checkpoints do not verify.
    path.write_text(buffer.getvalue(), encoding="utf-8")
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    other = tmp_path / "other.pub"
    other.write_bytes(
        Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    assert verify_export(path, other).reason == "unknown key"


def _exported(ledger, tmp_path) -> tuple:
    config = config_for(ledger)
    make_checkpoint(ledger, config)  # covers seq 20
    buffer = io.StringIO()
    export(ledger, buffer, fmt="jsonl")
    path = tmp_path / "export.jsonl"
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return path, config.public_key_file, buffer.getvalue().splitlines()


def _without(path, lines, drop) -> None:
    path.write_text(
        "\n".join(line for i, line in enumerate(lines) if not drop(i, line)) + "\n", encoding="utf-8"
    )


def test_lines_removed_from_an_export_are_named(ledger, tmp_path):
    path, public_key, lines = _exported(ledger, tmp_path)
    assert verify_export(path, public_key).ok
    # An entry in the middle: a gap.
    _without(path, lines, lambda i, line: '"seq": 9,' in line)
    broken = verify_export(path, public_key)
    assert not broken.ok and (broken.broken_seq, broken.reason) == (10, "seq gap")
    # The signed checkpoints: nothing certifies the window.
    _without(path, lines, lambda i, line: '"type": "checkpoint"' in line)
    broken = verify_export(path, public_key)
    assert (
        not broken.ok
        and broken.reason == "unsigned"
        and "no checkpoint signed by a pinned key" in broken.problem
    )
    # The last entries and their checkpoint, the header's count edited to match: its last seq disagrees.
    header = json.loads(lines[0])
    header["count"] = 17
    kept = [json.dumps(header)] + [
        line for line in lines[1:] if '"type": "entry"' in line and json.loads(line)["seq"] <= 17
    ]
    path.write_text("\n".join(kept) + "\n", encoding="utf-8")
    broken = verify_export(path, public_key)
    assert not broken.ok and broken.reason == "truncated" and "seq 20 last" in broken.problem
    # The header: not an export.
    _without(path, lines, lambda i, line: i == 0)
    assert verify_export(path, public_key).reason == "unreadable"


def test_an_export_with_no_pin_or_an_unsigned_tail_fails(ledger, tmp_path, pins_file, monkeypatch):
    path, public_key, lines = _exported(ledger, tmp_path)
    append_now(ledger, sample_events(6, start=300))
    buffer = io.StringIO()
    export(ledger, buffer, fmt="jsonl")  # seq 1..26, the checkpoint at 20: a tail of 6
    path.write_text(buffer.getvalue(), encoding="utf-8")
    from lienthong.audit.config import Tolerance

    assert verify_export(path, public_key, tolerance=Tolerance(10, 600)).ok
    tail = verify_export(path, public_key, tolerance=Tolerance(5, 600))
    assert not tail.ok and (tail.broken_seq, tail.reason) == (21, "unsigned tail")
    assert verify_export(path, public_key, strict=False, tolerance=Tolerance(5, 600)).ok
    pins_file.unlink()
    assert verify_export(path, public_key).reason == "unpinned"
