"""Follow-ups that exceed a target's per-call limit, split into part-rows at transform time (issue #17).

The portal takes at most 10 progress records per ``CapNhatTienDoHoSoMC`` call (the operation's
``batch_size`` in ``mappings/targets/dvcqg.yaml``, with ``items_per_row``): a dossier with 23 steps
used to become one outbox row of 23 items, answered ``-1`` and dead.  Now a follow-up of more items
than that is queued as consecutive versions of its key, one per part, each at most the limit, in
source order:

- part 1's parent is the record's main row; part *k*'s parent is part *k-1*, so part *k* is claimed
  only once part *k-1* is acknowledged (the outbox's parent rule), and a dead part blocks the rest;
- each part is an ordinary row (its own idempotency key, retries, lost-answer handling, ledger
  entries): the exactly-once rules hold per part;
- the parts of one version are marked in their idempotency keys (``…/part2of3``): the transform
  compares a new follow-up with the **whole** latest version (every part, in order), so an unchanged
  follow-up queues nothing and a changed one queues all its parts again (the portal keeps one record
  per step, so resending an unchanged step is a repeat, not a duplicate).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lienthong import states
from lienthong.store.models import OutboxRow

_MARKER = re.compile(r"/part(\d+)of(\d+)$")


@dataclass(frozen=True)
class PartRow:
    """One part of a key's latest split version, as the outbox holds it."""

    id: int
    seq: int
    payload_hash: str
    state: str


def split(payload: Any, limit: int | None) -> list[Any]:
    """``payload`` in parts of at most ``limit`` items (order kept); ``[payload]`` when it fits."""
    if limit is None or not isinstance(payload, list) or len(payload) <= limit:
        return [payload]
    return [payload[start : start + limit] for start in range(0, len(payload), limit)]


def marker(index: int, count: int) -> str:
    """The idempotency-key suffix of part ``index`` (0-based) of ``count``; empty when not split."""
    return f"/part{index + 1}of{count}" if count > 1 else ""


def latest_groups(
    session: Session, target: str, operation: str, keys: Iterable[str]
) -> dict[str, list[PartRow]]:
    """Per key, the part rows of its newest split version (only keys that have one).  The caller
    uses a group only when its last part is the key's newest row."""
    keys = list(set(keys))
    groups: dict[str, list[PartRow]] = {}
    for start in range(0, len(keys), 500):
        rows = session.execute(
            select(
                OutboxRow.record_key,
                OutboxRow.id,
                OutboxRow.seq,
                OutboxRow.payload_hash,
                OutboxRow.state,
                OutboxRow.idempotency_key,
            )
            .where(
                OutboxRow.target == target,
                OutboxRow.operation == operation,
                OutboxRow.record_key.in_(keys[start : start + 500]),
                OutboxRow.idempotency_key.like("%/part%of%"),
            )
            .order_by(OutboxRow.record_key, OutboxRow.seq)
        ).all()
        by_key: dict[str, list[tuple[PartRow, int, int]]] = {}
        for key, row_id, seq, payload_hash, state, idempotency_key in rows:
            found = _MARKER.search(idempotency_key)
            if found:
                part = PartRow(row_id, seq, payload_hash, state)
                by_key.setdefault(key, []).append((part, int(found.group(1)), int(found.group(2))))
        for key, parts in by_key.items():
            last, index, count = parts[-1]
            group = parts[-count:]
            if index == count and [i for _, i, _ in group] == list(range(1, count + 1)):
                groups[key] = [part for part, _, _ in group]
    return groups


def same_version(hashes: list[str], latest_hash: str, latest_seq: int, group: list[PartRow] | None) -> bool:
    """Whether the new follow-up (``hashes`` of its parts) equals the key's newest version."""
    if group and group[-1].seq == latest_seq:
        # A superseded part (``dead replay --remap`` of a part) leaves the version incomplete: queue
        # every part again rather than leave the parts after it waiting for a parent that never comes.
        if any(part.state == states.SUPERSEDED for part in group):
            return False
        return [part.payload_hash for part in group] == hashes
    return len(hashes) == 1 and hashes[0] == latest_hash


def acknowledged_versions(
    session: Session, target: str, operation: str, keys: Iterable[str]
) -> dict[str, tuple[int, list[str], bool]]:
    """Per key, the **whole** version its newest acknowledged row belongs to: (that row's id, the
    payload hashes of the version's parts in order, whether every part is still whole).  A row that is
    not a part is a version of one; a part brings its siblings (same ``…/partKofN`` run of seqs), so
    remap compares a follow-up with what the target acknowledged as a whole, the way the transform
    compares it with the newest version (:func:`same_version`).  A part version that lost a part
    (superseded) or whose parts cannot all be found is not whole: it matches no new payload."""
    keys = list(set(keys))
    found: dict[str, tuple[int, list[str], bool]] = {}
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        newest: dict[str, tuple[int, int, str, str]] = {}  # key -> (id, seq, hash, idempotency key)
        for key, row_id, seq, payload_hash, idempotency_key in session.execute(
            select(
                OutboxRow.record_key,
                OutboxRow.id,
                OutboxRow.seq,
                OutboxRow.payload_hash,
                OutboxRow.idempotency_key,
            )
            .where(
                OutboxRow.target == target,
                OutboxRow.operation == operation,
                OutboxRow.record_key.in_(chunk),
                OutboxRow.state == states.ACKNOWLEDGED,
            )
            .order_by(OutboxRow.record_key, OutboxRow.seq)
        ).all():
            newest[key] = (row_id, seq, payload_hash, idempotency_key)
        split_keys = [key for key, (_, _, _, ikey) in newest.items() if _MARKER.search(ikey)]
        parts_of: dict[str, dict[int, tuple[str, str, str]]] = {}  # key -> seq -> (hash, state, ikey)
        if split_keys:
            for key, seq, payload_hash, state, idempotency_key in session.execute(
                select(
                    OutboxRow.record_key,
                    OutboxRow.seq,
                    OutboxRow.payload_hash,
                    OutboxRow.state,
                    OutboxRow.idempotency_key,
                ).where(
                    OutboxRow.target == target,
                    OutboxRow.operation == operation,
                    OutboxRow.record_key.in_(split_keys),
                    OutboxRow.idempotency_key.like("%/part%of%"),
                )
            ).all():
                parts_of.setdefault(key, {})[seq] = (payload_hash, state, idempotency_key)
        for key, (row_id, seq, payload_hash, idempotency_key) in newest.items():
            marked = _MARKER.search(idempotency_key)
            if not marked:
                found[key] = (row_id, [payload_hash], True)
                continue
            index, count = int(marked.group(1)), int(marked.group(2))
            first_seq = seq - index + 1
            rows = [parts_of.get(key, {}).get(first_seq + offset) for offset in range(count)]
            whole = all(
                row is not None
                and row[1] != states.SUPERSEDED
                and _MARKER.search(row[2]) is not None
                and _MARKER.search(row[2]).groups() == (str(offset + 1), str(count))
                for offset, row in enumerate(rows)
            )
            found[key] = (row_id, [row[0] for row in rows if row is not None], whole)
    return found
