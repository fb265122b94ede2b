"""What "exactly once in effect, none lost" means, checked against what the portal holds.

The outbox says what the gateway meant to deliver: one row per record version, its payload rendered
once.  The portal simulator says what took effect: per dossier (and per progress record) the number of
writes that changed it (``writes``), the writes that repeated the stored content (``repeats``) and the
SHA-256 of every effective write (``versions``).  Delivered exactly once, in effect, means for every
record version in the outbox: the portal holds it, with exactly one effective write whose hash is the
hash of that payload, and nothing the outbox does not know of.  A repeat is not a duplicate effect (the
portal stored nothing new); it is counted, because it shows where an answer was lost and resent.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select

from lienthong import states
from lienthong.store.db import Store
from lienthong.store.models import OutboxRow

DOSSIER_OP = "DongBoHoSoMC"
PROGRESS_OP = "CapNhatTienDoHoSoMC"


def portal_hash(item: Any) -> str:
    """The portal simulator's content hash of one item (docs/simulators/dvcqg.md)."""
    text = json.dumps(item, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def progress_identity(item: dict[str, Any]) -> tuple[str, str, str]:
    return (str(item.get("MaHoSo")), str(item.get("ThoiDiemXuLy")), str(item.get("NguoiXuLy")))


@dataclass
class Expected:
    """Every record version the outbox holds for the dossier route, in version order, with its state
    and the hash the portal would give it.  Superseded versions are kept: one that was on the wire
    when its worker died may have taken effect before a newer version replaced it."""

    dossiers: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # MaHoSo → [(hash, state)]
    progress: dict[tuple[str, str, str], list[tuple[str, str]]] = field(default_factory=dict)
    progress_items: int = 0  # items of the rows that are not superseded

    def versions(self) -> int:
        return sum(
            1 for hashes in self.dossiers.values() for _, state in hashes if state != states.SUPERSEDED
        )


def expected_from_outbox(store: Store, route: str = "dossier_sync") -> Expected:
    expected = Expected()
    with store.session() as session:
        rows = session.execute(
            select(OutboxRow.operation, OutboxRow.record_key, OutboxRow.payload, OutboxRow.state)
            .where(OutboxRow.route == route)
            .order_by(OutboxRow.record_key, OutboxRow.seq, OutboxRow.id)
        ).all()
    for operation, key, payload, state in rows:
        data = json.loads(payload)
        if operation == DOSSIER_OP:
            expected.dossiers.setdefault(key, []).append((portal_hash(data), state))
        elif operation == PROGRESS_OP:
            for item in data:
                if state != states.SUPERSEDED:
                    expected.progress_items += 1
                versions = expected.progress.setdefault(progress_identity(item), [])
                digest = portal_hash(item)
                if digest not in [h for h, _ in versions]:
                    versions.append((digest, state))
                elif state != states.SUPERSEDED:
                    versions[:] = [(h, state if h == digest else s) for h, s in versions]
    return expected


@dataclass
class Verdict:
    missing: list[str] = field(default_factory=list)  # a version the outbox must deliver, not on the portal
    extra: list[str] = field(default_factory=list)  # on the portal, unknown to the outbox
    duplicated: list[str] = field(default_factory=list)  # a version written more than once in effect
    wrong_versions: list[str] = field(default_factory=list)  # content the outbox never held, or out of order
    progress_missing: list[str] = field(default_factory=list)
    progress_duplicated: list[str] = field(default_factory=list)
    progress_wrong: list[str] = field(default_factory=list)
    dossier_writes: int = 0
    dossier_repeats: int = 0
    progress_writes: int = 0
    progress_repeats: int = 0
    repeated_dossiers: int = 0  # dossiers with at least one repeat (an answer lost, then resent)
    superseded_written: int = 0  # superseded versions that took effect anyway (on the wire at a crash)

    @property
    def duplicates(self) -> int:
        """Effective writes beyond one per version."""
        return len(self.duplicated) + len(self.progress_duplicated)

    @property
    def lost(self) -> int:
        return len(self.missing) + len(self.progress_missing)

    def problems(self) -> dict[str, list[str]]:
        named = {
            "versions missing on the portal": self.missing,
            "dossiers unknown to the outbox": self.extra,
            "versions written more than once": self.duplicated,
            "dossiers with foreign or out-of-order writes": self.wrong_versions,
            "missing progress records": self.progress_missing,
            "progress records written more than once": self.progress_duplicated,
            "progress records with foreign or stale content": self.progress_wrong,
        }
        return {
            name: found[:10] + ([f"... {len(found)} in all"] if len(found) > 10 else [])
            for name, found in named.items()
            if found
        }


def _compare(
    name: str, written: list[str], versions: list[tuple[str, str]]
) -> tuple[list[str], list[str], list[str], int]:
    """(missing, duplicated, wrong, superseded written) for one record: the portal's effective writes
    ``written`` against the outbox's ``versions`` (hash, state) in version order.

    Every version not superseded must have been written once; a superseded one at most once; nothing
    else; in version order; and the last write is the newest version (last version wins)."""
    order = {digest: i for i, (digest, _) in enumerate(versions)}
    required = [digest for digest, state in versions if state != states.SUPERSEDED]
    missing = [f"{name} version {order[d] + 1}" for d in required if d not in written]
    counts = Counter(written)
    duplicated = [
        f"{name}: version {order[d] + 1} written {n} times" for d, n in counts.items() if d in order and n > 1
    ]
    wrong = [f"{name}: a write the outbox never held" for d in counts if d not in order]
    positions = [order[d] for d in written if d in order]
    if positions != sorted(positions):
        wrong.append(f"{name}: versions written out of order {[p + 1 for p in positions]}")
    elif required and written and written[-1] != required[-1] and not missing:
        wrong.append(f"{name}: the last write is not the newest version")
    superseded = sum(1 for d in counts if d in order and versions[order[d]][1] == states.SUPERSEDED)
    return missing, duplicated, wrong, superseded


def verify_portal(portal: dict[str, Any], expected: Expected) -> Verdict:
    """Compare the full ``GET /_sim/received`` of the portal with the outbox's record versions."""
    verdict = Verdict()
    held = portal.get("dossiers") or {}
    for key, versions in expected.dossiers.items():
        entry = held.get(key)
        if entry is None:
            if any(state != states.SUPERSEDED for _, state in versions):
                verdict.missing.append(key)
            continue
        verdict.dossier_writes += entry["writes"]
        verdict.dossier_repeats += entry["repeats"]
        verdict.repeated_dossiers += 1 if entry["repeats"] else 0
        missing, duplicated, wrong, superseded = _compare(key, entry["versions"], versions)
        verdict.missing += missing
        verdict.duplicated += duplicated
        verdict.wrong_versions += wrong
        verdict.superseded_written += superseded
    verdict.extra = sorted(set(held) - set(expected.dossiers))
    found: dict[tuple[str, str, str], dict[str, Any]] = {}
    for records in (portal.get("progress") or {}).values():
        for record in records:
            found[progress_identity(record["data"])] = record
    for identity, versions in expected.progress.items():
        record = found.get(identity)
        name = "|".join(identity)
        if record is None:
            if any(state != states.SUPERSEDED for _, state in versions):
                verdict.progress_missing.append(name)
            continue
        verdict.progress_writes += record["writes"]
        verdict.progress_repeats += record["repeats"]
        missing, duplicated, wrong, _ = _compare(name, record["versions"], versions)
        verdict.progress_missing += missing
        verdict.progress_duplicated += duplicated
        verdict.progress_wrong += wrong
    verdict.extra += sorted("|".join(i) for i in set(found) - set(expected.progress))
    return verdict


def outbox_figures(store: Store, route: str = "dossier_sync") -> dict[str, Any]:
    """Rows by state, and attempts: retries = attempts beyond the first of each row that was sent."""
    with store.session() as session:
        by_state = dict(
            session.execute(
                select(OutboxRow.state, func.count())
                .where(OutboxRow.route == route)
                .group_by(OutboxRow.state)
            ).all()
        )
        attempts, sent, max_attempts = session.execute(
            select(
                func.coalesce(func.sum(OutboxRow.attempts), 0),
                func.count().filter(OutboxRow.attempts > 0),
                func.coalesce(func.max(OutboxRow.attempts), 0),
            ).where(OutboxRow.route == route)
        ).one()
    return {
        "rows": sum(by_state.values()),
        "by_state": by_state,
        "attempts": int(attempts),
        "retries": int(attempts) - int(sent),
        "max_attempts_of_a_row": int(max_attempts),
    }


def settled(figures: dict[str, Any]) -> bool:
    """Every row acknowledged, or superseded by a newer version (nothing dead, waiting or in review)."""
    return set(figures["by_state"]) <= {states.ACKNOWLEDGED, states.SUPERSEDED} and figures["rows"] > 0


def live_rows(store: Store, route: str = "dossier_sync") -> int:
    """Rows somebody still has to deliver: pending, in flight or waiting for a retry."""
    with store.session() as session:
        return int(
            session.execute(
                select(func.count()).where(OutboxRow.route == route, OutboxRow.state.in_(states.LIVE_STATES))
            ).scalar_one()
        )


def progress_after_parent(store: Store, route: str = "dossier_sync") -> list[str]:
    """Progress rows acknowledged before the dossier row they follow (must be none)."""
    parent = OutboxRow.__table__.alias("parent")
    child = OutboxRow.__table__.alias("child")
    with store.session() as session:
        rows = session.execute(
            select(child.c.record_key, child.c.acknowledged_at, parent.c.acknowledged_at)
            .select_from(child.join(parent, parent.c.id == child.c.parent_id))
            .where(child.c.route == route)
        ).all()
    return [
        f"{key}: progress acknowledged {mine} before/without its dossier ({theirs})"
        for key, mine, theirs in rows
        if mine is None or theirs is None or mine < theirs
    ]
