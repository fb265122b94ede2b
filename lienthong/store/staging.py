"""Staging pulled records and moving the route's watermark, in one transaction per page.

The watermark advances in the same transaction that stages the page's records, so after a crash a
pull resumes exactly after the last page that is durably staged: nothing skipped, and a page pulled
twice stages nothing twice (a version is unique per route, record key and content hash).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select, update

from lienthong import states
from lienthong.audit import hooks as audit_hooks
from lienthong.clock import utcnow
from lienthong.jsoncanon import canonical, digest
from lienthong.store.db import Store
from lienthong.store.models import StagedRecord, Watermark


@dataclass(frozen=True)
class PulledRecord:
    record_key: str
    source_id: str
    source_updated: str
    body: dict
    agency: str | None = None


@dataclass(frozen=True)
class StoredMark:
    updated: str
    ids: frozenset[str]


def load_watermark(store: Store, route: str) -> StoredMark | None:
    with store.session() as session:
        mark = session.get(Watermark, route)
        if mark is None:
            return None
        return StoredMark(mark.source_updated, frozenset(json.loads(mark.ids_at_mark)))


def stage_page(
    store: Store, route: str, records: Sequence[PulledRecord], run_id: int, mark: StoredMark | None
) -> tuple[int, int]:
    """Stage new record versions and (if ``mark``) move the watermark. Returns (staged, unchanged)."""
    now = utcnow()
    prepared = []
    for record in records:
        body = canonical(record.body)
        prepared.append((record, body, digest(body)))
    staged = unchanged = 0
    with store.session() as session:
        keys = list({record.record_key for record, _, _ in prepared})
        known: set[tuple[str, str]] = set()
        for start in range(0, len(keys), 500):
            rows = session.execute(
                select(StagedRecord.record_key, StagedRecord.content_hash).where(
                    StagedRecord.route == route, StagedRecord.record_key.in_(keys[start : start + 500])
                )
            ).all()
            known.update((key, content_hash) for key, content_hash in rows)
        new_rows = []
        for record, body, content_hash in prepared:
            if (record.record_key, content_hash) in known:
                unchanged += 1
                continue
            known.add((record.record_key, content_hash))
            new_rows.append(
                StagedRecord(
                    route=route,
                    record_key=record.record_key,
                    source_id=record.source_id,
                    source_updated=record.source_updated,
                    agency=record.agency,
                    content_hash=content_hash,
                    body=audit_hooks.seal(store, body),  # personal data: sealed at rest
                    state=states.STAGED,
                    staged_at=now,
                    run_id=run_id,
                )
            )
            staged += 1
        session.add_all(new_rows)
        if mark is not None:
            existing = session.get(Watermark, route)
            ids = json.dumps(sorted(mark.ids))
            if existing is None:
                session.add(
                    Watermark(route=route, source_updated=mark.updated, ids_at_mark=ids, changed_at=now)
                )
            else:
                existing.source_updated, existing.ids_at_mark, existing.changed_at = mark.updated, ids, now
        audit_hooks.staged(session, store, route, new_rows)  # last: the ledger's head lock is taken last
    return staged, unchanged


def pending_staged(store: Store, route: str, limit: int, after_id: int = 0) -> list[StagedRecord]:
    with store.session() as session:
        rows = session.execute(
            select(StagedRecord)
            .where(
                StagedRecord.route == route, StagedRecord.state == states.STAGED, StagedRecord.id > after_id
            )
            .order_by(StagedRecord.id)
            .limit(limit)
        ).scalars()
        return list(rows)


def restage(store: Store, staged_ids: Sequence[int]) -> int:
    """Put record versions back to ``staged`` so the next transform maps them again (replay)."""
    with store.session() as session:
        result = session.execute(
            update(StagedRecord)
            .where(StagedRecord.id.in_(list(staged_ids)))
            .values(state=states.STAGED, state_reason=None)
        )
        return result.rowcount or 0


def staged_count(store: Store, route: str) -> int:
    with store.session() as session:
        return session.execute(
            select(func.count())
            .select_from(StagedRecord)
            .where(StagedRecord.route == route, StagedRecord.state == states.STAGED)
        ).scalar_one()
