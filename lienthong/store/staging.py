"""Staging pulled records and moving the route's watermark, in one transaction per page.

The watermark advances in the same transaction that stages the page's records, so after a crash a
pull resumes exactly after the last page that is durably staged: nothing skipped, and a page pulled
twice stages nothing twice (a version is unique per route, record key and content hash).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update

from lienthong import states
from lienthong.audit import hooks as audit_hooks
from lienthong.clock import utcnow
from lienthong.jsoncanon import digest
from lienthong.store import unstageable
from lienthong.store.db import Store
from lienthong.store.models import StagedRecord, Watermark

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PulledRecord:
    record_key: str
    source_id: str
    source_updated: str
    body: Any
    agency: str | None = None
    #: Why the record cannot be staged as it is (found while pulling it), e.g. its key is unusable.
    problem: str | None = None


@dataclass(frozen=True)
class StoredMark:
    updated: str
    ids: frozenset[str]


@dataclass(frozen=True)
class _Version:
    """A pulled record ready for a staged row: the record itself, or a placeholder saying why not."""

    record_key: str
    source_id: str
    source_updated: str
    agency: str | None
    body: str
    content_hash: str
    problem: str | None


def load_watermark(store: Store, route: str) -> StoredMark | None:
    with store.session() as session:
        mark = session.get(Watermark, route)
        if mark is None:
            return None
        return StoredMark(mark.source_updated, frozenset(json.loads(mark.ids_at_mark)))


def prepare_version(record: PulledRecord) -> _Version:
    """Canonical body and content hash, or a placeholder when any part of the record cannot be kept
    (see :mod:`lienthong.store.unstageable`): one bad record never fails its page."""
    problems = [
        record.problem,
        unstageable.column_problem("the source id", record.source_id, unstageable.SOURCE_ID_LENGTH),
        unstageable.column_problem("the record key", record.record_key, unstageable.KEY_LENGTH),
        unstageable.column_problem("the updated time", record.source_updated, unstageable.UPDATED_LENGTH),
        unstageable.column_problem("the agency code", record.agency, unstageable.AGENCY_LENGTH),
    ]
    problem = next((p for p in problems if p), None)
    body = None
    if problem is None:
        body, problem = unstageable.body_problem(record.body)
    if problem is None and body is not None:
        return _Version(
            record.record_key,
            record.source_id,
            record.source_updated,
            record.agency,
            body,
            digest(body),
            None,
        )
    content_hash = unstageable.lenient_hash(record.body)
    id_ok = unstageable.column_problem("id", record.source_id, unstageable.SOURCE_ID_LENGTH) is None
    key_ok = record.record_key and problems[2] is None
    return _Version(
        record_key=record.record_key if key_ok else unstageable.fallback_key(record.source_id, content_hash),
        source_id=record.source_id if id_ok else f"unusable:{content_hash[7:23]}",
        source_updated=record.source_updated if problems[3] is None else "",
        agency=record.agency if problems[4] is None else None,
        body=unstageable.placeholder_body(problem or "unknown", record.source_id if id_ok else ""),
        content_hash=content_hash,
        problem=problem,
    )


def stage_page(
    store: Store, route: str, records: Sequence[PulledRecord], run_id: int, mark: StoredMark | None
) -> tuple[int, int]:
    """Stage new record versions and (if ``mark``) move the watermark. Returns (staged, unchanged).

    A version is *new* when its content differs from the key's **latest** staged version (not from
    every version the key ever had): a record going A -> B -> A is staged three times, so the target
    ends with A.  A version is unique per (route, key, content hash), so content that comes back
    after a different one is stored with the hash and a ``#n`` suffix (its n-th return).
    """
    now = utcnow()
    prepared = [prepare_version(record) for record in records]
    staged = unchanged = 0
    with store.session() as session:
        keys = list({version.record_key for version in prepared})
        latest: dict[str, str] = {}  # key -> the content hash (without suffix) of its latest version
        taken: dict[str, set[str]] = {}  # key -> every content hash (with suffix) it has
        for start in range(0, len(keys), 500):
            rows = session.execute(
                select(StagedRecord.record_key, StagedRecord.content_hash)
                .where(StagedRecord.route == route, StagedRecord.record_key.in_(keys[start : start + 500]))
                .order_by(StagedRecord.id)
            ).all()
            for key, content_hash in rows:
                latest[key] = _base(content_hash)
                taken.setdefault(key, set()).add(content_hash)
        new_rows = []
        for version in prepared:
            key = version.record_key
            if latest.get(key) == version.content_hash:
                unchanged += 1
                continue
            content_hash = _free_hash(version.content_hash, taken.setdefault(key, set()))
            latest[key] = version.content_hash
            taken[key].add(content_hash)
            if version.problem:
                log.warning(
                    "route %s: a record could not be staged as it is (%s); staged as %s for quarantine",
                    route,
                    version.problem,
                    key,
                )
            new_rows.append(
                StagedRecord(
                    route=route,
                    record_key=key,
                    source_id=version.source_id,
                    source_updated=version.source_updated,
                    agency=version.agency,
                    content_hash=content_hash,
                    body=audit_hooks.seal(store, version.body),  # personal data: sealed at rest
                    state=states.STAGED,  # a placeholder too: the transform quarantines it
                    state_reason=version.problem,
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


def _base(content_hash: str) -> str:
    return content_hash.split("#", 1)[0]


def _free_hash(content_hash: str, taken: set[str]) -> str:
    if content_hash not in taken:
        return content_hash
    n = 2
    while f"{content_hash}#{n}" in taken:
        n += 1
    return f"{content_hash}#{n}"


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
