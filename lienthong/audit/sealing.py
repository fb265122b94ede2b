"""Sealed text: zlib-compressed, AES-GCM-encrypted, tagged with its key id.

A sealed value is ``enc:1:<keyid>:<base64(nonce ‖ ciphertext ‖ tag)>``.  JSON text never starts with
``enc:``, so plain values written before encryption was on (or with the audit switched off for a
benchmark) are told apart and read as they are.  The key id is also the AES-GCM associated data, so
a value cannot be relabelled to another key.

:class:`SealedText` is the column type of ``staged_records.body``, ``outbox.payload``,
``outbox.response`` and the archive's bodies: every ORM or Core read opens the value transparently,
so no reader needs to know about the encryption.  Writes pass values through untouched: the writer
seals explicitly (:func:`seal`) once and may store the same sealed text in the archive as well.
"""

from __future__ import annotations

import base64
import os
import zlib

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Text
from sqlalchemy.types import TypeDecorator

from lienthong.audit import keyring

PREFIX = "enc:1:"


def seal(text: str, ring: keyring.Keyring) -> str:
    key_id = ring.current_id
    nonce = os.urandom(12)
    data = AESGCM(ring.current_key).encrypt(nonce, zlib.compress(text.encode("utf-8"), 1), key_id.encode())
    return f"{PREFIX}{key_id}:{base64.b64encode(nonce + data).decode('ascii')}"


def is_sealed(value: str | None) -> bool:
    return bool(value) and value.startswith(PREFIX)  # type: ignore[union-attr]


def key_id_of(value: str) -> str | None:
    if not is_sealed(value):
        return None
    return value[len(PREFIX) :].split(":", 1)[0]


def open_text(value: str) -> str:
    """The plain text of a sealed value (a plain value is returned as it is)."""
    if not value.startswith(PREFIX):
        return value
    key_id, _, encoded = value[len(PREFIX) :].partition(":")
    raw = base64.b64decode(encoded)
    key = keyring.key_for(key_id)  # outside the try: a missing key has its own message
    try:
        data = AESGCM(key).decrypt(raw[:12], raw[12:], key_id.encode())
    except Exception as exc:  # InvalidTag: wrong key or altered bytes
        raise keyring.KeyringError(
            f"sealed value under key {key_id!r} does not decrypt (altered, or wrong key)"
        ) from exc
    return zlib.decompress(data).decode("utf-8")


def reseal(value: str, ring: keyring.Keyring) -> str:
    """The value under the ring's current key (rotation); plain values become sealed."""
    if key_id_of(value) == ring.current_id:
        return value
    return seal(open_text(value), ring)


class SealedText(TypeDecorator[str]):
    """A text column whose values may be sealed: opened on read, passed through on write."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value, dialect):  # type: ignore[no-untyped-def]
        return value

    def process_result_value(self, value, dialect):  # type: ignore[no-untyped-def]
        if value is None or not value.startswith(PREFIX):
            return value
        return open_text(value)
