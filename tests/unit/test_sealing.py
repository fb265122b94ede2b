"""Sealed values: the current format (LZ4) round-trips, values written in the first format (zlib,
before 2026-11-29) still open, and a value relabelled to another format or key does not."""

from __future__ import annotations

import base64
import os
import zlib
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from lienthong.audit import keyring, sealing

TEXT = '{"HoTen":"Nguyễn Văn An","SoDinhDanh":"083185001234","n":1}'


@pytest.fixture()
def ring(monkeypatch):
    key = os.urandom(32)
    monkeypatch.setenv(keyring.ENV_KEYS, f"k1:{base64.b64encode(key).decode()}")
    keyring.forget_all()
    yield keyring.load(Path(".")), key
    keyring.forget_all()


def _format_1(text: str, key: bytes, key_id: str) -> str:
    """A value as the first format wrote it: zlib level 1, the key id as associated data."""
    nonce = os.urandom(12)
    data = AESGCM(key).encrypt(nonce, zlib.compress(text.encode(), 1), key_id.encode())
    return f"enc:1:{key_id}:{base64.b64encode(nonce + data).decode()}"


def test_current_format_round_trips_and_hides_the_text(ring):
    current, _ = ring
    sealed = sealing.seal(TEXT, current)
    assert sealed.startswith("enc:2:k1:") and "083185001234" not in sealed
    assert sealing.key_id_of(sealed) == "k1" and sealing.is_sealed(sealed)
    assert sealing.open_text(sealed) == TEXT
    assert sealing.open_text(TEXT) == TEXT  # plain values read as they are


def test_values_of_the_first_format_still_open(ring):
    _, key = ring
    old = _format_1(TEXT, key, "k1")
    assert sealing.open_text(old) == TEXT
    assert sealing.key_id_of(old) == "k1"


def test_a_value_relabelled_to_another_format_does_not_open(ring):
    current, key = ring
    relabelled = "enc:1:" + sealing.seal(TEXT, current)[len("enc:2:") :]
    with pytest.raises(keyring.KeyringError, match="does not decrypt"):
        sealing.open_text(relabelled)
    with pytest.raises(keyring.KeyringError, match="format '9'"):
        sealing.open_text("enc:9:" + _format_1(TEXT, key, "k1")[len("enc:1:") :])
