"""Sealed text: compressed, AES-GCM-encrypted, tagged with its format and key id.

A sealed value is ``enc:<format>:<keyid>:<base64(nonce ‖ ciphertext ‖ tag)>``:

- format ``2`` (written now): LZ4 block compression; associated data ``2:<keyid>``;
- format ``1`` (written by earlier versions, still read): zlib level 1; associated data ``<keyid>``;
- format ``3`` (payloads and answers, which are addressed by digest):
  ``enc:3:<keyid>:<kind>:<digest>:<base64>``, LZ4 as format 2, associated data
  ``3:<keyid>:<kind>:<digest>``.  The value names what it is (``request`` or ``response``) and the
  digest of its plain text, bound by the cipher: opening it checks the plain text's hash against
  that digest, and its reader checks the digest against the address it was read from (the archive
  row's digest, the outbox row's ``payload_hash``), so a blob copied over another digest is refused.

LZ4 replaced zlib on the hot path: sealing a 1.2 KB payload or a 3 KB staged dossier took 22-36 µs
with zlib level 1 and 2-6 µs with LZ4, for 0.52-0.56 of the plain size instead of 0.40-0.45
(``docs/audit.md``).  JSON text never starts with ``enc:``, so plain values (written before
encryption was on, or with the audit switched off for a benchmark) are told apart and read as they
are.  The associated data binds the key id and format, so a value cannot be relabelled.

:class:`SealedText` is the column type of ``staged_records.body``, ``outbox.payload``,
``outbox.response`` and the archive's bodies: every ORM or Core read opens the value transparently,
so no reader needs to know about the encryption.  Writes pass values through untouched: the writer
seals explicitly (:func:`seal`) once and may store the same sealed text in the archive as well.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import os
import zlib

import lz4.block
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Text
from sqlalchemy.types import TypeDecorator

from lienthong.audit import keyring

#: What every sealed value starts with, whatever its format.
PREFIX = "enc:"
FORMAT = "2"
BOUND = "3"


class Opened(str):
    """The plain text of a value read from a sealed column, remembering how it was stored:
    ``sealed`` (False: it was plain text in the column), and for format 3 the ``kind`` and
    ``digest`` it was sealed for; ``broken`` when a format-3 value did not open (see
    :class:`SealedText`).  A ``str`` in every other respect."""

    sealed: bool = False
    kind: str | None = None
    digest: str | None = None
    broken: str | None = None


class Unopenable(keyring.KeyringError):
    """A sealed value that does not decrypt, or whose plain text is not the one it was sealed for:
    altered at rest (a missing key is a plain :class:`~lienthong.audit.keyring.KeyringError`)."""


def _plain_digest(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


@functools.lru_cache(maxsize=64)
def _cipher(key: bytes) -> AESGCM:
    """One cipher object per key (its key schedule is computed once; encrypt/decrypt are thread-safe)."""
    return AESGCM(key)


def seal(text: str, ring: keyring.Keyring, *, kind: str | None = None, digest: str | None = None) -> str:
    """``text`` sealed under the ring's current key; with ``kind`` and ``digest`` (the sha256 of
    ``text``, as ``sha256:<hex>``) in format 3, bound to them."""
    key_id = ring.current_id
    nonce = os.urandom(12)
    if kind is not None and digest is not None:
        if ":" in kind or not digest.startswith("sha256:"):
            raise ValueError("a sealed value's kind has no ':' and its digest is sha256:<hex>")
        label = f"{BOUND}:{key_id}:{kind}:{digest}"
    else:
        label = f"{FORMAT}:{key_id}"
    data = _cipher(ring.current_key).encrypt(nonce, lz4.block.compress(text.encode("utf-8")), label.encode())
    return f"{PREFIX}{label}:{base64.b64encode(nonce + data).decode('ascii')}"


def is_sealed(value: str | None) -> bool:
    return bool(value) and value.startswith(PREFIX)  # type: ignore[union-attr]


def key_id_of(value: str) -> str | None:
    if not is_sealed(value):
        return None
    return value.split(":", 3)[2]


def current_pattern(key_id: str) -> str:
    """A SQL ``LIKE`` pattern for values sealed under ``key_id`` in any format."""
    return f"{PREFIX}_:{key_id}:%"


def open_text(value: str) -> Opened:
    """The plain text of a value (a plain value is returned as it is, marked not sealed).  A format-3
    value whose plain text does not hash to the digest it names is refused."""
    if not value.startswith(PREFIX):
        return Opened(value)
    kind = digest = None
    version = value[len(PREFIX) : len(PREFIX) + 1]
    if version == BOUND:
        _, version, key_id, kind, algorithm, hex_digest, encoded = value.split(":", 6)
        digest = f"{algorithm}:{hex_digest}"
        associated = f"{version}:{key_id}:{kind}:{digest}".encode()
    else:
        _, version, key_id, encoded = value.split(":", 3)
        associated = key_id.encode() if version == "1" else f"{version}:{key_id}".encode()
    if version not in ("1", FORMAT, BOUND):
        raise keyring.KeyringError(f"sealed value in format {version!r}, which this version cannot read")
    raw = base64.b64decode(encoded)
    key = keyring.key_for(key_id)  # outside the try: a missing key has its own message
    try:
        data = _cipher(key).decrypt(raw[:12], raw[12:], associated)
    except Exception as exc:  # InvalidTag: wrong key or altered bytes
        raise Unopenable(
            f"sealed value under key {key_id!r} does not decrypt (altered, or wrong key)"
        ) from exc
    plain = Opened((zlib.decompress(data) if version == "1" else lz4.block.decompress(data)).decode("utf-8"))
    if digest is not None and _plain_digest(plain) != digest:
        raise keyring.KeyringError(
            f"sealed {kind} does not hash to the digest {digest[:19]}… it was sealed for"
        )
    plain.sealed, plain.kind, plain.digest = True, kind, digest
    return plain


def reseal(value: str, ring: keyring.Keyring) -> str:
    """The value under the ring's current key (rotation); plain values become sealed."""
    if key_id_of(value) == ring.current_id:
        return value
    plain = open_text(value)
    return seal(plain, ring, kind=plain.kind, digest=plain.digest)


class SealedText(TypeDecorator[str]):
    """A text column whose values may be sealed: opened on read, passed through on write."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value, dialect):  # type: ignore[no-untyped-def]
        return value

    def process_result_value(self, value, dialect):  # type: ignore[no-untyped-def]
        if value is None or not value.startswith(PREFIX):
            return value
        if not value.startswith(_BOUND_PREFIX):
            return open_text(value)
        try:
            return open_text(value)
        except Unopenable as exc:
            # One altered payload or answer must not stop every reader of its table (a delivery
            # claim reads a batch): it reads as a JSON note, marked ``broken``; the delivery's
            # integrity check sends the row to review, the archive's read refuses it.
            note = Opened(json.dumps({"unreadable_sealed_value": str(exc)}))
            note.sealed, note.broken = True, str(exc)
            return note


_BOUND_PREFIX = f"{PREFIX}{BOUND}:"
