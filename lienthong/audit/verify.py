"""Verifying the ledger: recompute the chain, check it against the signed checkpoints.

The first problem found is reported, naming the entry and why:

- ``seq gap``: the seqs are not consecutive (entries deleted, or inserted with new numbers);
- ``broken link``: an entry's ``prev_hash`` is not the hash of the entry before it (deleted,
  inserted or reordered);
- ``edited``: an entry's stored hash is not the hash of its content (a field was changed);
- ``rewritten``: the chain is consistent but the entry at a checkpoint's seq has another hash
  than the one signed (the chain was recomputed after an edit);
- ``truncated``: the ledger ends before a signed checkpoint (or before its own head row);
- ``bad signature``: a checkpoint is not signed by the given public key;
- ``unpinned``, ``unknown key``, ``unpinned key``, ``unsigned``, ``unsigned tail``: the checkpoints
  do not certify the chain (no pin configured, a signer not given or not pinned, no checkpoint by a
  pinned key, or too much after the last one): see :mod:`lienthong.audit.trust`.

The same loop checks a store (streamed, no ORM objects) and an export file (a window of the chain:
it starts at the export's ``prev_hash``).  1,000,000 entries take a few seconds per core; see
``bench/bench_verify.py``.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from lienthong.audit import canonical, pins
from lienthong.audit.checkpoints import from_table, read_file
from lienthong.audit.config import Tolerance
from lienthong.audit.trust import Broken, PublicKeys, check_checkpoints, judge_tail
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
    strict: bool = True
    unsigned_tail: int = 0  # entries after the last signed checkpoint
    tail_seconds: float | None = None  # from the first of them to now (store) or the last entry (export)
    keys: list[str] = field(default_factory=list)  # fingerprints of the pinned keys that signed
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _parse_at(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ")


def check_chain(
    rows: Iterable[tuple],
    result: VerifyResult,
    *,
    prev: str = canonical.GENESIS,
    first_seq: int | None = 1,
    signed: dict[int, str] | None = None,
    progress: Progress | None = None,
) -> dict[str, str | None]:
    """Walk ``rows`` = (seq, at-text, event, route, record_key, target, operation, mapping_version,
    actor, outcome, detail, prev_hash, hash) in seq order; fills ``result`` or raises :class:`Broken`.
    Returns the ``at`` texts of the first entry after the newest signed checkpoint and of the last entry."""
    signed = signed or {}
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    sha256 = hashlib.sha256
    expected = first_seq
    count = 0
    seq = result.last_seq
    newest_signed = max(signed, default=0)
    first_unsigned_at: str | None = None
    at: str | None = None
    for row in rows:
        seq = row[0]
        if expected is not None and seq != expected:
            raise Broken(
                seq,
                "seq gap",
                f"entry seq {seq}: expected seq {expected} (entries deleted or inserted before it)",
            )
        if row[11] != prev:
            raise Broken(
                seq,
                "broken link",
                f"entry seq {seq}: prev_hash does not match the previous entry's hash "
                "(an entry before it was deleted, inserted or reordered)",
            )
        computed = sha256((prev + "\n" + dumps(list(row[:11]))).encode("utf-8")).hexdigest()
        if computed != row[12]:
            raise Broken(
                seq, "edited", f"entry seq {seq} ({row[2]}): hash does not match its content (edited)"
            )
        if seq in signed and signed[seq] != computed:
            raise Broken(
                seq,
                "rewritten",
                f"entry seq {seq}: hash differs from the signed checkpoint at that seq (the chain was rewritten)",
            )
        at = row[1]
        if first_unsigned_at is None and seq > newest_signed:
            first_unsigned_at = at
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
    return {"first_unsigned": first_unsigned_at, "last": at}


def _covered(result: VerifyResult, signed: dict[int, str]) -> int | None:
    """The newest signed seq inside the verified entries (None: no checkpoint covers any)."""
    inside = [
        seq for seq in signed if result.first_seq is not None and result.first_seq <= seq <= result.last_seq
    ]
    result.checkpoints = len(inside)
    return max(inside, default=None)


def _fail(result: VerifyResult, broken: Broken) -> None:
    result.ok, result.broken_seq, result.reason, result.problem = (
        False,
        broken.seq,
        broken.reason,
        broken.problem,
    )


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
    public_key_files: Sequence[Path] = (),
    pinned_file: Path | None = None,
    strict: bool = True,
    tolerance: Tolerance | None = None,
    progress: Progress | None = None,
    actor: str | None = None,
    record: bool = True,
) -> VerifyResult:
    """Verify the store's ledger against its head row and every signed checkpoint (file and table);
    it passes only when a checkpoint signed by a pinned key covers the chain (:mod:`lienthong.audit.trust`).
    The result is recorded in ``audit_verifications`` (see :func:`last_verification`)."""
    from lienthong.audit.chain import head
    from lienthong.audit.config import config_for
    from lienthong.workers import default_actor

    config = config_for(store)
    started = time.monotonic()
    result = VerifyResult(ok=True, strict=strict)
    checkpoints_file = checkpoints_file or config.checkpoints_file
    try:
        pinned = pins.configured(pinned_file, data_dir=config.data_dir)
        keys = PublicKeys.load([public_key_file or config.public_key_file, *public_key_files])
        checkpoints = read_file(checkpoints_file) + from_table(store)
        signed, distrust = check_checkpoints(checkpoints, keys, pinned)
        result.keys = sorted({keys.by_id[c.key_id][0] for c in checkpoints if c.key_id in keys.by_id})
        ats = check_chain(_store_rows(store), result, signed=signed, progress=progress)
        if distrust is not None:  # the chain itself is consistent: now what certifies it
            raise distrust
        beyond = [seq for seq in signed if seq > result.last_seq]
        if beyond:
            raise Broken(
                result.last_seq + 1,
                "truncated",
                f"the ledger ends at seq {result.last_seq} but a signed checkpoint covers seq {max(beyond)} "
                "(entries after it were deleted)",
            )
        head_seq, head_hash = head(store)
        if head_seq != result.last_seq or (head_seq and head_hash != result.last_hash):
            raise Broken(
                result.last_seq + 1 if head_seq > result.last_seq else head_seq,
                "truncated" if head_seq > result.last_seq else "broken link",
                f"the head row says seq {head_seq} but the ledger ends at seq {result.last_seq}",
            )
        judge_tail(
            result,
            _covered(result, signed),
            _parse_at(ats["first_unsigned"]) if ats["first_unsigned"] else None,
            utcnow(),
            strict=strict,
            tolerance=tolerance or Tolerance.from_env(),
        )
    except Broken as broken:
        _fail(result, broken)
    except ValueError as exc:  # an unreadable checkpoint file, key or pins file
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


def verify_export(
    path: Path,
    public_key_file: Path | Sequence[Path],
    progress: Progress | None = None,
    *,
    pinned_file: Path | None = None,
    strict: bool = True,
    tolerance: Tolerance | None = None,
) -> VerifyResult:
    """Verify an exported window offline: its chain from the header's ``prev_hash``, every
    checkpoint it carries (signed by a pinned key, matching the entry at its seq), at least one of
    them inside the window, and (strict) an unsigned tail within the tolerance."""
    from lienthong.audit.export import read_export

    started = time.monotonic()
    result = VerifyResult(ok=True, strict=strict)
    files = [public_key_file] if isinstance(public_key_file, (str, Path)) else list(public_key_file)
    try:
        pinned = pins.configured(pinned_file)
        header, rows, checkpoints = read_export(Path(path))
        keys = PublicKeys.load(files)
        signed, distrust = check_checkpoints(checkpoints, keys, pinned)
        result.keys = sorted({keys.by_id[c.key_id][0] for c in checkpoints if c.key_id in keys.by_id})
        ats = check_chain(
            rows,
            result,
            prev=header["prev_hash"],
            first_seq=header.get("first_seq"),
            signed=signed,
            progress=progress,
        )
        if distrust is not None:  # the chain itself is consistent: now what certifies it
            raise distrust
        if header.get("count") is not None and header["count"] != result.entries:
            raise Broken(
                result.last_seq + 1,
                "truncated",
                f"the export's header announces {header['count']} entries but it holds {result.entries}",
            )
        if header.get("last_seq") is not None and result.entries and header["last_seq"] != result.last_seq:
            raise Broken(
                result.last_seq + 1,
                "truncated",
                f"the export's header announces seq {header['last_seq']} last but it ends at {result.last_seq}",
            )
        outside = [
            seq
            for seq in signed
            if result.first_seq is None or not (result.first_seq <= seq <= result.last_seq)
        ]
        if outside:
            raise Broken(
                min(outside),
                "truncated",
                f"a signed checkpoint at seq {min(outside)} is outside the export's entries",
            )
        judge_tail(
            result,
            _covered(result, signed),
            _parse_at(ats["first_unsigned"]) if ats["first_unsigned"] else None,
            _parse_at(ats["last"]) if ats["last"] else utcnow(),
            strict=strict,
            tolerance=tolerance or Tolerance.from_env(),
        )
    except Broken as broken:
        _fail(result, broken)
    except (ValueError, KeyError) as exc:
        result.ok, result.reason, result.problem = False, "unreadable", f"{type(exc).__name__}: {exc}"
    result.seconds = time.monotonic() - started
    return result
