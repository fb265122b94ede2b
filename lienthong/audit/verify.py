"""Verifying the ledger: recompute the chain, check it against the signed checkpoints.

The first problem found is reported, naming the entry and why:

- ``seq gap``: the seqs are not consecutive (entries deleted, or inserted with new numbers);
- ``broken link``: an entry's ``prev_hash`` is not the hash of the entry before it (deleted,
  inserted or reordered);
- ``edited``: an entry's stored hash is not the hash of its content (a field was changed);
- ``rewritten``: the chain is consistent but the entry at a checkpoint's seq has another hash
  than the one signed (the chain was recomputed after an edit);
- ``truncated``: the ledger ends before a signed checkpoint (or before its own head row);
- ``bad signature``: a checkpoint is not signed by the given public key.

The same loop checks a store (streamed, no ORM objects) and an export file (a window of the chain:
it starts at the export's ``prev_hash``).  1,000,000 entries take a few seconds per core; see
``bench/bench_verify.py``.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select

from lienthong.audit import canonical
from lienthong.audit.checkpoints import Checkpoint, from_table, load_public_key, read_file
from lienthong.clock import utcnow
from lienthong.store.models import AuditVerification, LedgerEntry

Progress = Callable[[int], None]


@dataclass
class VerifyResult:
    ok: bool
    entries: int = 0
    first_seq: int | None = None
    last_seq: int = 0
    last_hash: str = canonical.GENESIS
    checkpoints: int = 0  # signed checkpoints checked against the chain
    broken_seq: int | None = None
    reason: str | None = None
    problem: str | None = None
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class _Broken(Exception):
    def __init__(self, seq: int | None, reason: str, problem: str) -> None:
        super().__init__(problem)
        self.seq, self.reason, self.problem = seq, reason, problem


def check_checkpoints(checkpoints: list[Checkpoint], public_key: Any) -> dict[int, str]:
    signed: dict[int, str] = {}
    for number, checkpoint in enumerate(checkpoints, start=1):
        if not checkpoint.verify(public_key):
            raise _Broken(
                checkpoint.seq,
                "bad signature",
                f"checkpoint #{number} (seq {checkpoint.seq}) is not signed by the given public key",
            )
        if signed.get(checkpoint.seq, checkpoint.hash) != checkpoint.hash:
            raise _Broken(
                checkpoint.seq, "bad signature", f"two signed checkpoints disagree on seq {checkpoint.seq}"
            )
        signed[checkpoint.seq] = checkpoint.hash
    return signed


def check_chain(
    rows: Iterable[tuple],
    result: VerifyResult,
    *,
    prev: str = canonical.GENESIS,
    first_seq: int | None = 1,
    signed: dict[int, str] | None = None,
    progress: Progress | None = None,
) -> None:
    """Walk ``rows`` = (seq, at-text, event, route, record_key, target, operation, mapping_version,
    actor, outcome, detail, prev_hash, hash) in seq order; fills ``result`` or raises :class:`_Broken`."""
    signed = signed or {}
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    sha256 = hashlib.sha256
    expected = first_seq
    count = 0
    seq = result.last_seq
    for row in rows:
        seq = row[0]
        if expected is not None and seq != expected:
            raise _Broken(
                seq,
                "seq gap",
                f"entry seq {seq}: expected seq {expected} (entries deleted or inserted before it)",
            )
        if row[11] != prev:
            raise _Broken(
                seq,
                "broken link",
                f"entry seq {seq}: prev_hash does not match the previous entry's hash "
                "(an entry before it was deleted, inserted or reordered)",
            )
        computed = sha256((prev + "\n" + dumps(list(row[:11]))).encode("utf-8")).hexdigest()
        if computed != row[12]:
            raise _Broken(
                seq, "edited", f"entry seq {seq} ({row[2]}): hash does not match its content (edited)"
            )
        if seq in signed and signed[seq] != computed:
            raise _Broken(
                seq,
                "rewritten",
                f"entry seq {seq}: hash differs from the signed checkpoint at that seq (the chain was rewritten)",
            )
        if result.first_seq is None:
            result.first_seq = seq
        prev = computed
        expected = seq + 1
        count += 1
        if progress is not None and not count % 50_000:
            progress(count)
    result.entries, result.last_seq, result.last_hash = count, seq, prev
    if progress is not None:
        progress(count)


def _store_rows(store: Any) -> Iterator[tuple]:
    columns = [getattr(LedgerEntry, name) for name in canonical.FIELDS] + [
        LedgerEntry.prev_hash,
        LedgerEntry.hash,
    ]
    with store.engine.connect() as connection:
        result = connection.execution_options(stream_results=True, yield_per=20_000).execute(
            select(*columns).order_by(LedgerEntry.seq)
        )
        for row in result:
            yield (row[0], row[1].isoformat(timespec="microseconds") + "Z", *row[2:])


def verify_ledger(
    store: Any,
    *,
    checkpoints_file: Path | None = None,
    public_key_file: Path | None = None,
    progress: Progress | None = None,
    actor: str | None = None,
    record: bool = True,
) -> VerifyResult:
    """Verify the store's ledger against its head row and every signed checkpoint (file and table);
    the result is recorded in ``audit_verifications`` (see :func:`last_verification`)."""
    from lienthong.audit.chain import head
    from lienthong.audit.config import config_for
    from lienthong.workers import default_actor

    config = config_for(store)
    started = time.monotonic()
    result = VerifyResult(ok=True)
    checkpoints_file = checkpoints_file or config.checkpoints_file
    public_key_file = public_key_file or config.public_key_file
    try:
        checkpoints = read_file(checkpoints_file) + from_table(store)
        signed: dict[int, str] = {}
        if checkpoints:
            if not Path(public_key_file).exists():
                result.notes.append(f"no public key at {public_key_file}: checkpoints not checked")
            else:
                signed = check_checkpoints(checkpoints, load_public_key(public_key_file))
        else:
            result.notes.append("no signed checkpoints yet: a truncated tail cannot be detected")
        check_chain(_store_rows(store), result, signed=signed, progress=progress)
        result.checkpoints = len({seq for seq in signed if seq <= result.last_seq})
        beyond = [seq for seq in signed if seq > result.last_seq]
        if beyond:
            raise _Broken(
                result.last_seq + 1,
                "truncated",
                f"the ledger ends at seq {result.last_seq} but a signed checkpoint covers seq {max(beyond)} "
                "(entries after it were deleted)",
            )
        head_seq, head_hash = head(store)
        if head_seq != result.last_seq or (head_seq and head_hash != result.last_hash):
            raise _Broken(
                result.last_seq + 1 if head_seq > result.last_seq else head_seq,
                "truncated" if head_seq > result.last_seq else "broken link",
                f"the head row says seq {head_seq} but the ledger ends at seq {result.last_seq}",
            )
    except _Broken as broken:
        result.ok, result.broken_seq, result.reason, result.problem = (
            False,
            broken.seq,
            broken.reason,
            broken.problem,
        )
    except ValueError as exc:  # an unreadable checkpoint file or key
        result.ok, result.reason, result.problem = False, "unreadable", str(exc)
    result.seconds = time.monotonic() - started
    if record:
        with store.session() as session:
            session.add(
                AuditVerification(
                    at=utcnow(),
                    actor=actor or default_actor(),
                    ok=result.ok,
                    entries=result.entries,
                    head_seq=result.last_seq,
                    checkpoints=result.checkpoints,
                    seconds=round(result.seconds, 3),
                    problem=result.problem,
                )
            )
    return result


def last_verification(store: Any) -> dict[str, Any] | None:
    """The newest recorded verification: ``{at, actor, ok, entries, head_seq, checkpoints, seconds, problem}``."""
    with store.session() as session:
        row = session.execute(
            select(AuditVerification).order_by(AuditVerification.id.desc()).limit(1)
        ).scalar()
        if row is None:
            return None
        return {
            "at": row.at.isoformat(timespec="seconds"),
            "actor": row.actor,
            "ok": row.ok,
            "entries": row.entries,
            "head_seq": row.head_seq,
            "checkpoints": row.checkpoints,
            "seconds": row.seconds,
            "problem": row.problem,
        }


def verify_export(path: Path, public_key_file: Path, progress: Progress | None = None) -> VerifyResult:
    """Verify an exported window offline: its chain from the header's ``prev_hash``, and every
    checkpoint it carries (signed by the public key, matching the entry at its seq)."""
    from lienthong.audit.export import read_export

    started = time.monotonic()
    result = VerifyResult(ok=True)
    try:
        header, rows, checkpoints = read_export(Path(path))
        if not checkpoints:
            result.notes.append(
                "the export carries no signed checkpoint: only its internal consistency is checked"
            )
        signed = check_checkpoints(checkpoints, load_public_key(public_key_file))
        check_chain(
            rows,
            result,
            prev=header["prev_hash"],
            first_seq=header.get("first_seq"),
            signed=signed,
            progress=progress,
        )
        if header.get("count") is not None and header["count"] != result.entries:
            raise _Broken(
                result.last_seq + 1,
                "truncated",
                f"the export's header announces {header['count']} entries but it holds {result.entries}",
            )
        outside = [
            seq
            for seq in signed
            if result.first_seq is None or not (result.first_seq <= seq <= result.last_seq)
        ]
        if outside:
            raise _Broken(
                min(outside),
                "truncated",
                f"a signed checkpoint at seq {min(outside)} is outside the export's entries",
            )
        result.checkpoints = len(signed)
    except _Broken as broken:
        result.ok, result.broken_seq, result.reason, result.problem = (
            False,
            broken.seq,
            broken.reason,
            broken.problem,
        )
    except (ValueError, KeyError) as exc:
        result.ok, result.reason, result.problem = False, "unreadable", f"{type(exc).__name__}: {exc}"
    result.seconds = time.monotonic() - started
    return result
