"""The archive key ring from a mounted file (``LIENTHONG_ARCHIVE_KEYS_FILE``), as from the variable."""

from __future__ import annotations

import pytest

from lienthong.audit import keyring


@pytest.fixture(autouse=True)
def _fresh_ring():
    keyring.forget_all()
    yield
    keyring.forget_all()


def test_keys_from_a_file_are_the_same_ring_as_from_the_variable(tmp_path):
    line = keyring.new_key_line()
    path = tmp_path / "archive.keys"
    path.write_text(line + "\n", encoding="ascii")
    from_file = keyring.load(tmp_path / "unused", {"LIENTHONG_ARCHIVE_KEYS_FILE": str(path)})
    keyring.forget_all()
    from_env = keyring.load(tmp_path / "unused", {"LIENTHONG_ARCHIVE_KEYS": line})
    assert from_file.keys == from_env.keys
    assert "LIENTHONG_ARCHIVE_KEYS_FILE" in from_file.source
    assert not (tmp_path / "unused").exists()  # nothing generated beside a configured ring


def test_an_unreadable_file_fails_closed_without_generating_a_key(tmp_path):
    with pytest.raises(keyring.KeyringError, match="cannot read"):
        keyring.load(tmp_path / "keys", {"LIENTHONG_ARCHIVE_KEYS_FILE": str(tmp_path / "missing")})
    assert not (tmp_path / "keys").exists()


def test_a_malformed_file_names_the_variable_not_the_keys(tmp_path):
    path = tmp_path / "archive.keys"
    path.write_text("not-a-key-line\n", encoding="ascii")
    with pytest.raises(keyring.KeyringError) as caught:
        keyring.load(tmp_path / "keys", {"LIENTHONG_ARCHIVE_KEYS_FILE": str(path)})
    assert "LIENTHONG_ARCHIVE_KEYS_FILE" in str(caught.value)
