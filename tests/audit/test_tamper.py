"""Tampering with the ledger directly in the database is detected, naming the entry and why
(SQLite and PostgreSQL); the untouched ledger verifies."""

from __future__ import annotations

import json

from sqlalchemy import text

from lienthong.audit import canonical, last_verification, verify_ledger
from lienthong.audit.chain import append_now, head
from lienthong.audit.checkpoints import make_checkpoint, read_file
from lienthong.audit.config import config_for
from tests.audit.conftest import sample_events


def _sql(store, statement: str, **params) -> None:
    with store.engine.begin() as connection:
        connection.execute(text(statement), params)


def _row(store, seq: int) -> dict:
    with store.engine.connect() as connection:
        return dict(
            connection.execute(text("SELECT * FROM audit_ledger WHERE seq = :s"), {"s": seq}).mappings().one()
        )


def test_an_untouched_ledger_verifies_and_the_result_is_recorded(ledger):
    make_checkpoint(ledger, config_for(ledger))
    result = verify_ledger(ledger)
    assert result.ok, result.problem
    assert (result.entries, result.first_seq, result.last_seq, result.checkpoints) == (20, 1, 20, 1)
    assert head(ledger) == (20, result.last_hash)
    last = last_verification(ledger)
    assert last["ok"] is True and last["entries"] == 20 and last["problem"] is None


def test_the_chain_is_the_documented_encoding(ledger):
    """An auditor can recompute an entry's hash from docs/audit.md alone."""
    import hashlib

    row = _row(ledger, 2)
    at = row["at"] if isinstance(row["at"], str) else row["at"].isoformat(timespec="microseconds")
    at = at.replace(" ", "T") + ("" if at.endswith("Z") else "Z")
    values = [row[name] for name in canonical.FIELDS]
    values[1] = at
    raw = json.dumps(values, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    assert hashlib.sha256(row["prev_hash"].encode() + b"\n" + raw).hexdigest() == row["hash"]
    assert row["prev_hash"] == _row(ledger, 1)["hash"]


def test_an_edited_field_is_named(ledger):
    _sql(ledger, "UPDATE audit_ledger SET outcome = 'dead' WHERE seq = 7")
    result = verify_ledger(ledger)
    assert not result.ok and (result.broken_seq, result.reason) == (7, "edited")
    assert "seq 7" in result.problem
    assert last_verification(ledger)["ok"] is False


def test_a_deleted_entry_is_a_gap(ledger):
    _sql(ledger, "DELETE FROM audit_ledger WHERE seq = 9")
    result = verify_ledger(ledger)
    assert not result.ok and (result.broken_seq, result.reason) == (10, "seq gap")
    assert "expected seq 9" in result.problem


def test_an_inserted_entry_breaks_the_link_after_it(ledger):
    """The forger renumbers the tail and inserts a well-formed entry (correct hash over its content)."""
    _sql(ledger, "UPDATE audit_ledger SET seq = seq + 1000 WHERE seq >= 5")
    _sql(ledger, "UPDATE audit_ledger SET seq = seq - 999 WHERE seq >= 1000")
    prev = _row(ledger, 4)["hash"]
    at = "2026-01-01T00:00:00.000000Z"
    values = [5, at, "acknowledged", "dossier_sync", "FORGED", None, None, None, "x", "acknowledged", "{}"]
    forged = canonical.entry_hash(prev, values)
    _sql(
        ledger,
        "INSERT INTO audit_ledger (seq, at, event, route, record_key, actor, outcome, detail, prev_hash, hash) "
        "VALUES (5, :at, 'acknowledged', 'dossier_sync', 'FORGED', 'x', 'acknowledged', '{}', :prev, :hash)",
        at="2026-01-01 00:00:00.000000",
        prev=prev,
        hash=forged,
    )
    result = verify_ledger(ledger)
    assert not result.ok and (result.broken_seq, result.reason) == (6, "broken link")


def test_two_swapped_entries_are_named(ledger):
    _sql(ledger, "UPDATE audit_ledger SET seq = 1000 WHERE seq = 11")
    _sql(ledger, "UPDATE audit_ledger SET seq = 11 WHERE seq = 12")
    _sql(ledger, "UPDATE audit_ledger SET seq = 12 WHERE seq = 1000")
    result = verify_ledger(ledger)
    assert not result.ok and (result.broken_seq, result.reason) == (11, "broken link")


def test_a_truncated_tail_is_caught_by_the_signed_checkpoint(ledger):
    make_checkpoint(ledger, config_for(ledger))  # signs seq 20
    new_head = _row(ledger, 17)["hash"]
    _sql(ledger, "DELETE FROM audit_ledger WHERE seq > 17")
    _sql(ledger, "UPDATE audit_head SET seq = 17, hash = :h", h=new_head)  # a careful forger
    _sql(ledger, "DELETE FROM audit_checkpoints")  # ...with full database access
    result = verify_ledger(ledger)
    assert not result.ok and result.reason == "truncated" and "20" in result.problem


def test_a_recomputed_chain_is_caught_by_the_signed_checkpoint(ledger):
    """Edit entry 5 and recompute every hash after it (and the head): consistent, but not what was signed."""
    make_checkpoint(ledger, config_for(ledger))
    _sql(ledger, "UPDATE audit_ledger SET outcome = 'dead' WHERE seq = 5")
    prev = _row(ledger, 4)["hash"]
    for seq in range(5, 21):
        row = _row(ledger, seq)
        at = row["at"] if isinstance(row["at"], str) else row["at"].isoformat(timespec="microseconds")
        values = [row[name] for name in canonical.FIELDS]
        values[1] = at.replace(" ", "T") + "Z"
        digest = canonical.entry_hash(prev, values)
        _sql(
            ledger,
            "UPDATE audit_ledger SET prev_hash = :p, hash = :h WHERE seq = :s",
            p=prev,
            h=digest,
            s=seq,
        )
        prev = digest
    _sql(ledger, "UPDATE audit_head SET hash = :h", h=prev)
    result = verify_ledger(ledger)
    assert not result.ok and (result.broken_seq, result.reason) == (20, "rewritten")


def test_a_forged_checkpoint_signature_is_refused(ledger):
    config = config_for(ledger)
    make_checkpoint(ledger, config)
    lines = config.checkpoints_file.read_text().splitlines()
    forged = json.loads(lines[0])
    forged["seq"] = 3  # claims another head
    config.checkpoints_file.write_text(json.dumps(forged) + "\n")
    result = verify_ledger(ledger)
    assert not result.ok and result.reason == "bad signature"


def test_concurrent_appenders_keep_one_gapless_chain(audited):
    import threading

    def worker(n: int) -> None:
        for _ in range(10):
            append_now(audited, sample_events(3, start=n * 100))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    make_checkpoint(audited, config_for(audited))
    result = verify_ledger(audited)
    assert result.ok, result.problem
    assert result.entries == 4 * 10 * 3 == head(audited)[0]
    assert read_file(config_for(audited).checkpoints_file)[-1].seq == 120


EDITS = [
    ("seq", "77", "seq gap"),  # found at seq 8: "expected seq 7"
    ("at", "'2020-01-01 00:00:00.000000'", "edited"),
    ("event", "'mapped'", "edited"),
    ("route", "'other_route'", "edited"),
    ("record_key", "'000.00.01.H01-250101-9999'", "edited"),
    ("target", "'bhxh'", "edited"),
    ("operation", "'XoaHoSo'", "edited"),
    ("mapping_version", "'sha256:forged'", "edited"),
    ("actor", "'someone-else'", "edited"),
    ("outcome", "'dead'", "edited"),
    ("detail", "'{}'", "edited"),
    ("prev_hash", "'" + "1" * 64 + "'", "broken link"),
    ("hash", "'" + "2" * 64 + "'", "edited"),
]


def test_an_edit_to_any_field_is_named(ledger):
    """Every column of an entry is covered: its content by the hash, its place by seq and prev_hash.
    One ledger: each edit is verified, then undone (the untouched ledger verifies between edits)."""
    make_checkpoint(ledger, config_for(ledger))
    assert {column for column, _, _ in EDITS} >= set(canonical.FIELDS) | {"prev_hash", "hash"}
    for column, value, reason in EDITS:
        original = _row(ledger, 7)
        _sql(ledger, f"UPDATE audit_ledger SET {column} = {value} WHERE seq = 7")  # noqa: S608 - test constants
        result = verify_ledger(ledger)
        at = 8 if column == "seq" else 7
        assert not result.ok and (result.broken_seq, result.reason) == (at, reason), (column, result.problem)
        assert "seq 7" in result.problem
        where = "seq = 77" if column == "seq" else "seq = 7"
        _sql(ledger, f"UPDATE audit_ledger SET {column} = :v WHERE {where}", v=original[column])  # noqa: S608
        assert verify_ledger(ledger).ok, column


def test_a_truncation_that_leaves_the_head_row_is_named(ledger):
    """Entries after the checkpoint deleted, the head row left as it was: the head row names the loss."""
    make_checkpoint(ledger, config_for(ledger))  # signs seq 20
    append_now(ledger, sample_events(3, start=40))
    _sql(ledger, "DELETE FROM audit_ledger WHERE seq > 21")
    result = verify_ledger(ledger)
    assert not result.ok and (result.broken_seq, result.reason) == (22, "truncated")
    assert "head row says seq 23" in result.problem


def test_a_deleted_head_row_is_named(ledger):
    make_checkpoint(ledger, config_for(ledger))
    _sql(ledger, "DELETE FROM audit_head")
    result = verify_ledger(ledger)
    assert not result.ok and "head row says seq 0" in result.problem
