"""Verification fails closed (SQLite and PostgreSQL): the chain passes only when a checkpoint signed by
a *pinned* key covers it, and an unsigned tail beyond the tolerance fails in strict mode.  Each attack
of the security review (public key removed or replaced, checkpoints removed from the file and the
table or replaced with one's own key, nothing pinned) is detected, naming what."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import text

from lienthong.audit import canonical, pins, verify_ledger
from lienthong.audit.chain import append_now
from lienthong.audit.checkpoints import after_entries, make_checkpoint, read_file, sign
from lienthong.audit.config import Tolerance, config_for
from lienthong.clock import utcnow
from tests.audit.conftest import sample_events


def _sql(store, statement: str, **params) -> None:
    with store.engine.begin() as connection:
        connection.execute(text(statement), params)


def _signed(ledger):
    """The ledger (20 entries) covered by a checkpoint of its generated, pinned key."""
    make_checkpoint(ledger, config_for(ledger))
    return ledger


def _own_key(path_pem, path_pub) -> Ed25519PrivateKey:
    key = Ed25519PrivateKey.generate()
    path_pem.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    path_pub.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return key


def test_the_generated_key_is_pinned_outside_the_data_dir_and_the_ledger_verifies(ledger, pins_file):
    config = config_for(ledger)
    assert not pins_file.exists()
    _signed(ledger)
    fingerprint = pins.fingerprint(serialization.load_pem_public_key(config.public_key_file.read_bytes()))
    assert pins_file.read_text().split() == [fingerprint]
    result = verify_ledger(ledger)
    assert result.ok, result.problem
    assert result.keys == [fingerprint] and result.unsigned_tail == 0 and result.checkpoints == 1


def test_nothing_pinned_fails(ledger, pins_file):
    _signed(ledger)
    pins_file.unlink()
    result = verify_ledger(ledger)
    assert not result.ok and result.reason == "unpinned" and "LIENTHONG_AUDIT_PINNED_KEYS" in result.problem


def test_a_pins_file_inside_the_data_dir_pins_nothing(ledger, pins_file, monkeypatch):
    _signed(ledger)
    inside = config_for(ledger).data_dir / "pins"
    inside.write_text(pins_file.read_text())
    result = verify_ledger(ledger, pinned_file=inside)
    assert not result.ok and result.reason == "unreadable" and "data directory" in result.problem


def test_pins_from_the_environment_are_a_set(ledger, pins_file, monkeypatch):
    """Rotation: the old and the new key are both pinned; checkpoints of each verify."""
    config = config_for(ledger)
    _signed(ledger)
    old_fp = pins_file.read_text().strip()
    old_pub = config.data_dir / "old.pub"
    old_pub.write_bytes(config.public_key_file.read_bytes())
    _own_key(config.signing_key_file, config.public_key_file)  # the operator rotates the signing key
    new_fp = pins.fingerprint(serialization.load_pem_public_key(config.public_key_file.read_bytes()))
    pins_file.unlink()
    monkeypatch.setenv(pins.ENV_PINNED, f"{old_fp}, {new_fp}")
    append_now(ledger, sample_events(3, start=50))
    make_checkpoint(ledger, config)
    result = verify_ledger(ledger, public_key_files=[old_pub])
    assert result.ok, result.problem
    assert sorted(result.keys) == sorted([old_fp, new_fp]) and result.checkpoints == 2
    monkeypatch.setenv(pins.ENV_PINNED, new_fp)  # the old one no longer trusted
    result = verify_ledger(ledger, public_key_files=[old_pub])
    assert not result.ok and result.reason == "unpinned key" and old_fp in result.problem


def test_a_removed_public_key_fails_naming_it(ledger):
    config = config_for(ledger)
    _signed(ledger)
    config.public_key_file.unlink()
    result = verify_ledger(ledger)
    assert not result.ok and result.reason == "unknown key"
    assert str(config.public_key_file) in result.problem and "checkpoint #1" in result.problem


def test_removed_checkpoints_file_and_rows_fail(ledger):
    config = config_for(ledger)
    _signed(ledger)
    config.checkpoints_file.unlink()
    _sql(ledger, "DELETE FROM audit_checkpoints")
    result = verify_ledger(ledger)
    assert not result.ok and result.reason == "unsigned"
    assert "no checkpoint signed by a pinned key covers the 20 entries" in result.problem


def test_checkpoints_and_key_replaced_with_ones_own_fail(ledger):
    """The forger rewrites entry 5, recomputes the chain, replaces the key pair and signs anew."""
    config = config_for(ledger)
    _signed(ledger)
    _sql(ledger, "UPDATE audit_ledger SET outcome = 'dead' WHERE seq = 5")
    prev = _hash(ledger, 4)
    for seq in range(5, 21):
        values = _values(ledger, seq)
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
    config.checkpoints_file.unlink()
    _sql(ledger, "DELETE FROM audit_checkpoints")
    own = _own_key(config.signing_key_file, config.public_key_file)
    forged = sign(own, 20, prev, 20, canonical.format_at(utcnow()))
    config.checkpoints_file.write_text(json.dumps(forged.to_dict()) + "\n")
    result = verify_ledger(ledger)
    assert not result.ok and result.reason == "unpinned key"
    assert pins.fingerprint(own.public_key()) in result.problem
    # ...and a key generated on a store that has checkpoints is not pinned on its own either.
    config.signing_key_file.unlink()
    config.public_key_file.unlink()
    make_checkpoint(ledger, config)
    assert not verify_ledger(ledger).ok


def test_an_unsigned_tail_fails_strict_beyond_the_tolerance_and_warns_otherwise(ledger):
    _signed(ledger)  # covers seq 20
    append_now(ledger, sample_events(4, start=200))
    within = verify_ledger(ledger, tolerance=Tolerance(entries=10, seconds=600))
    assert within.ok and within.unsigned_tail == 4
    assert any("unsigned tail: 4 entries" in note for note in within.notes)
    strict = verify_ledger(ledger, tolerance=Tolerance(entries=3, seconds=600))
    assert not strict.ok and (strict.broken_seq, strict.reason) == (21, "unsigned tail")
    assert "seq 21..24" in strict.problem
    lenient = verify_ledger(ledger, strict=False, tolerance=Tolerance(entries=3, seconds=600))
    assert lenient.ok and any("beyond the tolerance" in note for note in lenient.notes)
    # By age: the first unsigned entry is an hour old.
    _sql(ledger, "UPDATE audit_ledger SET at = :at WHERE seq = 21", at=utcnow() - timedelta(hours=1))
    _rehash_from(ledger, 21)
    old = verify_ledger(ledger, tolerance=Tolerance(entries=10, seconds=600))
    assert not old.ok and old.reason == "unsigned tail" and old.tail_seconds >= 3600 - 5


def test_an_empty_ledger_certifies_nothing_in_strict_mode(audited, monkeypatch):
    assert verify_ledger(audited).reason == "unpinned"
    monkeypatch.setenv(pins.ENV_PINNED, "sha256:" + "ab" * 32)
    result = verify_ledger(audited)
    assert not result.ok and result.reason == "unsigned"
    assert verify_ledger(audited, strict=False).ok


def test_a_deleted_unmask_entry_after_its_checkpoint_is_a_truncation(ledger, tmp_path):
    """`audit show --unmask` signs a checkpoint right after its entry: deleting it (head moved) shows."""
    from lienthong.audit.lineage import lineage

    _signed(ledger)
    lineage(ledger, "000.00.01.H01-250101-0003", unmask=True, actor="thanh-tra")
    _sql(ledger, "DELETE FROM audit_ledger WHERE seq = 21")
    _sql(ledger, "UPDATE audit_head SET seq = 20, hash = :h", h=_hash(ledger, 20))
    result = verify_ledger(ledger)
    assert not result.ok and result.reason == "truncated" and "21" in result.problem


def test_checkpoints_are_signed_every_n_entries_while_delivering(audited, monkeypatch):
    monkeypatch.setenv("LIENTHONG_AUDIT_CHECKPOINT_ENTRIES", "5")
    monkeypatch.setenv("LIENTHONG_AUDIT_CHECKPOINT_SECONDS", "3600")
    config = config_for(audited)
    append_now(audited, sample_events(3))
    assert after_entries(audited, config, 3) is None  # 3 < 5: nothing signed yet
    append_now(audited, sample_events(3, start=3))
    made = after_entries(audited, config, 3)
    assert made is not None and made.seq == 6
    assert [c.seq for c in read_file(config.checkpoints_file)] == [6]
    monkeypatch.setenv("LIENTHONG_AUDIT_CHECKPOINT_SECONDS", "0")  # by time: at the next batch
    append_now(audited, sample_events(1, start=6))
    assert after_entries(audited, config, 1).seq == 7


def test_the_cli_fails_without_a_pin_and_passes_with_the_auditors_file(
    ledger, tmp_path, monkeypatch, pins_file
):
    from lienthong.cli import main

    _signed(ledger)
    monkeypatch.setenv("LIENTHONG_DATABASE_URL", ledger.url)
    monkeypatch.setenv("LIENTHONG_HOME", str(config_for(ledger).data_dir))
    auditors = tmp_path.parent / f"{tmp_path.name}-auditor-pins"
    auditors.write_text("# the gateway's audit key\n" + pins_file.read_text())
    pins_file.unlink()
    args = ["audit", "verify", "--json", "--public-key", str(config_for(ledger).public_key_file)]
    refused = CliRunner().invoke(main, args)
    assert refused.exit_code == 1 and json.loads(refused.output)["reason"] == "unpinned"
    passed = CliRunner().invoke(main, [*args, "--pinned-keys", str(auditors)])
    assert passed.exit_code == 0, passed.output
    shown = CliRunner().invoke(
        main, ["audit", "fingerprint", "--public-key", str(config_for(ledger).public_key_file)]
    )
    assert shown.exit_code == 0 and shown.output.splitlines()[0] == auditors.read_text().split()[-1]


def test_a_malformed_pin_is_refused_with_its_place():
    with pytest.raises(pins.PinError, match="line 2"):
        pins.parse("sha256:" + "a" * 64 + "\nnot-a-fingerprint\n", "pins")


def _hash(store, seq: int) -> str:
    with store.engine.connect() as connection:
        return connection.execute(text("SELECT hash FROM audit_ledger WHERE seq = :s"), {"s": seq}).scalar()


def _values(store, seq: int) -> list:
    with store.engine.connect() as connection:
        row = dict(
            connection.execute(text("SELECT * FROM audit_ledger WHERE seq = :s"), {"s": seq}).mappings().one()
        )
    at = row["at"] if isinstance(row["at"], str) else row["at"].isoformat(timespec="microseconds")
    values = [row[name] for name in canonical.FIELDS]
    values[1] = at.replace(" ", "T").removesuffix("Z") + "Z"
    return values


def _rehash_from(store, first: int) -> None:
    prev = _hash(store, first - 1)
    last = first
    while True:
        try:
            values = _values(store, last)
        except Exception:  # noqa: BLE001 - past the end
            break
        digest = canonical.entry_hash(prev, values)
        _sql(
            store,
            "UPDATE audit_ledger SET prev_hash = :p, hash = :h WHERE seq = :s",
            p=prev,
            h=digest,
            s=last,
        )
        prev, last = digest, last + 1
    _sql(store, "UPDATE audit_head SET hash = :h", h=prev)
