"""Which checkpoints count, and what a verification may conclude from them.

A hash chain alone proves nothing against someone who can write the database: they can recompute
it.  What makes it evidence is a checkpoint signed by a key the auditor trusts.  So verification
fails closed:

- no pinned fingerprint configured → fail (``unpinned``): nothing could be trusted;
- a checkpoint signed by a key whose public key was not given → fail (``unknown key``), one whose
  fingerprint is not pinned → fail (``unpinned key``), a bad signature → fail (``bad signature``);
- no checkpoint signed by a pinned key covers any entry → fail (``unsigned``): the checkpoints were
  deleted, or never written;
- entries after the last signed checkpoint (the *unsigned tail*: normal on a live store, and at the
  end of a windowed export) → a failure in strict mode beyond a tolerance (N entries or T seconds,
  :class:`lienthong.audit.config.Tolerance`), a note otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from lienthong.audit.checkpoints import Checkpoint, load_public_key
from lienthong.audit.config import Tolerance
from lienthong.audit.pins import Pins, fingerprint


class Broken(Exception):
    """The first problem a verification found: the entry (seq), a short reason, and the sentence."""

    def __init__(self, seq: int | None, reason: str, problem: str) -> None:
        super().__init__(problem)
        self.seq, self.reason, self.problem = seq, reason, problem


@dataclass
class PublicKeys:
    """The public keys given to the verifier, by key id (fingerprint, key); files that were absent."""

    by_id: dict[str, tuple[str, Any]] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)

    @classmethod
    def load(cls, files: Iterable[Path | None]) -> PublicKeys:
        from lienthong.audit.checkpoints import key_id

        keys = cls()
        for path in files:
            if path is None:
                continue
            if not Path(path).exists():
                keys.missing.append(str(path))
                continue
            key = load_public_key(Path(path))
            keys.by_id[key_id(key)] = (fingerprint(key), key)
        return keys


def check_checkpoints(
    checkpoints: list[Checkpoint], keys: PublicKeys, pins: Pins
) -> tuple[dict[int, str], Broken | None]:
    """``({seq: hash} of the checkpoints signed by a pinned key, the first problem or None)``.  The
    problem is returned, not raised: the verifier walks the chain first (with the trusted checkpoints)
    so that an edited entry is named before a problem of trust."""
    signed: dict[int, str] = {}
    first: Broken | None = None
    for number, checkpoint in enumerate(checkpoints, start=1):
        try:
            _check_one(checkpoint, number, keys, pins, signed)
        except Broken as broken:
            first = first or broken
    if not pins:
        first = Broken(
            None,
            "unpinned",
            "no pinned public key is configured (LIENTHONG_AUDIT_PINNED_KEYS, LIENTHONG_AUDIT_PINNED_KEYS_FILE "
            "or --pinned-keys): without one no checkpoint can be trusted",
        )
    return signed, first


def _check_one(
    checkpoint: Checkpoint, number: int, keys: PublicKeys, pins: Pins, signed: dict[int, str]
) -> None:
    """Add ``checkpoint`` to ``signed`` when a pinned key signed it; else raise :class:`Broken`."""
    where = f"checkpoint #{number} (seq {checkpoint.seq})"
    known = keys.by_id.get(checkpoint.key_id)
    if known is None:
        missing = f" (public key file missing: {', '.join(keys.missing)})" if keys.missing else ""
        raise Broken(
            checkpoint.seq,
            "unknown key",
            f"{where} is signed by key {checkpoint.key_id}, whose public key was not given{missing}",
        )
    key_fingerprint, public_key = known
    if key_fingerprint not in pins:
        raise Broken(
            checkpoint.seq,
            "unpinned key",
            f"{where} is signed by key {key_fingerprint}, which is not pinned",
        )
    if not checkpoint.verify(public_key):
        raise Broken(checkpoint.seq, "bad signature", f"{where} is not signed by the given public key")
    if signed.get(checkpoint.seq, checkpoint.hash) != checkpoint.hash:
        raise Broken(
            checkpoint.seq, "bad signature", f"two signed checkpoints disagree on seq {checkpoint.seq}"
        )
    signed[checkpoint.seq] = checkpoint.hash


def judge_tail(
    result: Any,
    last_signed: int | None,
    first_unsigned_at: datetime | None,
    until: datetime,
    *,
    strict: bool,
    tolerance: Tolerance,
) -> None:
    """Fill ``result.unsigned_tail``/``tail_seconds``; raise :class:`Broken` when nothing is signed,
    or (strict) when the tail is beyond the tolerance; add a note when it is within."""
    if not result.entries:
        if strict:
            raise Broken(
                None, "unsigned", "the ledger holds no entry: there is nothing a checkpoint certifies"
            )
        result.notes.append("the ledger holds no entry")
        return
    if last_signed is None:
        raise Broken(
            result.first_seq,
            "unsigned",
            f"no checkpoint signed by a pinned key covers the {result.entries} entries "
            f"(seq {result.first_seq}..{result.last_seq}): the checkpoints were deleted, or never written",
        )
    tail = result.last_seq - last_signed
    result.unsigned_tail = tail
    if tail <= 0 or first_unsigned_at is None:
        return
    seconds = max(0.0, (until - first_unsigned_at).total_seconds())
    result.tail_seconds = round(seconds, 3)
    what = (
        f"{tail} entries after the last signed checkpoint (seq {last_signed + 1}..{result.last_seq}, "
        f"the first {seconds:.0f} s before the end)"
    )
    beyond = tail > tolerance.entries or seconds > tolerance.seconds
    if strict and beyond:
        raise Broken(
            last_signed + 1,
            "unsigned tail",
            f"{what}: beyond the tolerance of {tolerance.entries} entries / {tolerance.seconds:.0f} s; "
            "they may have been appended, edited or deleted without a trace (sign with `audit checkpoint`)",
        )
    result.notes.append(f"unsigned tail: {what}" + ("" if not beyond else " (beyond the tolerance)"))
