"""Signed checkpoints: the chain head (seq, hash, entry count, time) signed with Ed25519.

Each checkpoint is appended as one JSON line to a file outside the database (default
``<data dir>/audit/checkpoints.jsonl``; ``LIENTHONG_CHECKPOINTS_FILE``) and kept in
``audit_checkpoints`` for convenience.  Someone with full database access can rewrite the whole
chain consistently, but not sign: a verifier with only the public key finds that the entry at a
checkpoint's seq no longer has the signed hash (rewritten) or no longer exists (truncated).

The signature covers the canonical JSON (sorted keys, no whitespace, UTF-8) of
``{"at", "entries", "hash", "key_id", "seq"}``; ``key_id`` is the first 16 hex digits of the
sha256 of the raw 32-byte public key.  Signing key: ``LIENTHONG_SIGNING_KEY_FILE`` (PEM, PKCS#8);
the demo default is generated once into ``<data dir>/keys/audit-signing.pem`` (mode 0600) with
the public key beside it (``audit-signing.pub``).
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import func, select, text

from lienthong.audit import canonical, pins
from lienthong.audit.pins import fingerprint
from lienthong.clock import utcnow
from lienthong.store.models import AuditCheckpoint, LedgerEntry

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Checkpoint:
    seq: int
    hash: str
    entries: int
    at: str
    key_id: str
    signature: str

    def signed_bytes(self) -> bytes:
        body = {
            "at": self.at,
            "entries": self.entries,
            "hash": self.hash,
            "key_id": self.key_id,
            "seq": self.seq,
        }
        return json.dumps(body, sort_keys=True, separators=(",", ":")).encode("utf-8")

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "hash": self.hash,
            "entries": self.entries,
            "at": self.at,
            "key_id": self.key_id,
            "signature": self.signature,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Checkpoint:
        return cls(
            int(data["seq"]),
            str(data["hash"]),
            int(data["entries"]),
            str(data["at"]),
            str(data["key_id"]),
            str(data["signature"]),
        )

    def verify(self, public_key: Ed25519PublicKey) -> bool:
        if self.key_id != key_id(public_key):
            return False
        try:
            public_key.verify(base64.b64decode(self.signature), self.signed_bytes())
        except (InvalidSignature, ValueError):
            return False
        return True


def key_id(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def load_signing_key(
    path: Path, public_path: Path, on_generate: Callable[[Ed25519PrivateKey], None] | None = None
) -> Ed25519PrivateKey:
    """The signing key at ``path``; generated there (with its public key) when absent, and then
    handed to ``on_generate`` (which pins it: :func:`_pin_generated`)."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        private = Ed25519PrivateKey.generate()
        pem = private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "wb") as handle:
                handle.write(pem)
            public_path.write_bytes(
                private.public_key().public_bytes(
                    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
                )
            )
            log.warning(
                "no LIENTHONG_SIGNING_KEY_FILE configured: generated an audit signing key in %s "
                "(demo/test only); give auditors %s; fingerprint %s",
                path,
                public_path,
                fingerprint(private.public_key()),
            )
            if on_generate is not None:
                on_generate(private)
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} is not an Ed25519 private key")
    if not public_path.exists():
        public_path.write_bytes(
            key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    data = Path(path).read_bytes()
    key = (
        serialization.load_pem_private_key(data, password=None).public_key()
        if b"PRIVATE KEY" in data
        else serialization.load_pem_public_key(data)
    )
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError(f"{path} is not an Ed25519 key")
    return key


def sign(private: Ed25519PrivateKey, seq: int, hash_: str, entries: int, at: str) -> Checkpoint:
    unsigned = Checkpoint(seq, hash_, entries, at, key_id(private.public_key()), "")
    signature = base64.b64encode(private.sign(unsigned.signed_bytes())).decode("ascii")
    return Checkpoint(seq, hash_, entries, at, unsigned.key_id, signature)


def _pin_generated(store: Any, config: Any) -> Callable[[Ed25519PrivateKey], None]:
    """Pin a generated key, but only on a store that has no checkpoint yet: a key generated because
    the old one vanished must not certify, unasked, a ledger the old key signed."""

    def pin_it(private: Ed25519PrivateKey) -> None:
        fp = fingerprint(private.public_key())
        if from_table(store) or read_file(config.checkpoints_file):
            log.warning(
                "the store has checkpoints signed before this key was generated: %s is NOT pinned; "
                "verification fails until an auditor pins it (lienthong audit pin)",
                fp,
            )
            return
        try:
            where = pins.pin(fp)
        except OSError as exc:
            log.warning("could not pin the generated key %s: %s", fp, type(exc).__name__)
            return
        log.warning("audit signing key %s pinned in %s (verification trusts its checkpoints)", fp, where)

    return pin_it


def make_checkpoint(store: Any, config: Any) -> Checkpoint | None:
    """Sign the current head; append it to the file and the table.  None when the ledger is empty."""
    private = load_signing_key(config.signing_key_file, config.public_key_file, _pin_generated(store, config))
    with store.engine.begin() as connection:
        row = connection.execute(text("SELECT seq, hash FROM audit_head WHERE id = 1")).first()
        if row is None or int(row[0]) == 0:
            return None
        seq, hash_ = int(row[0]), str(row[1])
        entries = connection.execute(
            select(func.count()).select_from(LedgerEntry).where(LedgerEntry.seq <= seq)
        ).scalar_one()
        now = utcnow()
        checkpoint = sign(private, seq, hash_, int(entries), canonical.format_at(now))
        connection.execute(
            AuditCheckpoint.__table__.insert(),
            {
                "seq": seq,
                "hash": hash_,
                "entries": checkpoint.entries,
                "at": now,
                "key_id": checkpoint.key_id,
                "signature": checkpoint.signature,
            },
        )
    path = config.checkpoints_file
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(checkpoint.to_dict(), sort_keys=True) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    return checkpoint


def read_file(path: Path) -> list[Checkpoint]:
    if not Path(path).exists():
        return []
    found = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            found.append(Checkpoint.from_dict(json.loads(line)))
        except (ValueError, KeyError) as exc:
            raise ValueError(f"{path}: line {number} is not a checkpoint ({type(exc).__name__})") from None
    return found


def from_table(store: Any) -> list[Checkpoint]:
    with store.session() as session:
        rows = session.execute(select(AuditCheckpoint).order_by(AuditCheckpoint.id)).scalars()
        return [
            Checkpoint(r.seq, r.hash, r.entries, canonical.format_at(r.at), r.key_id, r.signature)
            for r in rows
        ]


_periodic_lock = threading.Lock()


def after_entries(store: Any, config: Any, appended: int) -> Checkpoint | None:
    """Count ``appended`` entries of this process; sign a checkpoint when ``N`` entries or ``T``
    seconds have passed since this process's last one (``LIENTHONG_AUDIT_CHECKPOINT_ENTRIES`` /
    ``_SECONDS``), so that the unsigned tail of a live store stays small.  Called after a delivery
    batch committed; never reads the database unless it signs.  One thread signs at a time; the
    others go on (their entries are in the next checkpoint)."""
    from lienthong.audit.config import checkpoint_interval

    state = config.__dict__.setdefault("_periodic", {"entries": 0, "since": time.monotonic()})
    state["entries"] += appended
    every_entries, every_seconds = checkpoint_interval()
    due = state["entries"] >= max(1, every_entries) or (
        state["entries"] and time.monotonic() - state["since"] >= every_seconds
    )
    if not due or not _periodic_lock.acquire(blocking=False):
        return None
    try:
        state["entries"], state["since"] = 0, time.monotonic()
        return make_checkpoint(store, config)
    finally:
        _periodic_lock.release()
