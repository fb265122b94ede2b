"""Extract: pull a route's new source records page by page and stage them durably.

One extractor per route at a time (a lease in the store); the watermark moves with each staged
page.  A resync pulls a window again (``--since``) without moving the watermark back, and checks
the records it staged before in that window but no longer finds: those deleted at the source become
tombstones for review, never silent deletes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from connectors.motcua import KeysetMark, MotcuaSource, source_instant
from lienthong.clock import utcnow
from lienthong.errors import MappingError
from lienthong.store import leases
from lienthong.store.db import Store
from lienthong.store.models import StagedRecord, Tombstone
from lienthong.store.staging import PulledRecord, StoredMark, load_watermark, stage_page
from lienthong.workers import lease_seconds

log = logging.getLogger(__name__)


@dataclass
class ExtractResult:
    pulled: int = 0
    staged: int = 0  # new record versions
    unchanged: int = 0  # the same content as a version already staged
    tombstones: int = 0
    pages: int = 0
    watermark: str | None = None
    skipped: str | None = None  # why this run did not pull (another extractor holds the route)


def extract(
    store: Store,
    route: str,
    compiled,  # lienthong.mapping.CompiledRoute  # noqa: ANN001
    source: MotcuaSource,
    resource: str,
    run_id: int,
    holder: str,
    since: str | None = None,
    on_page: Callable[[int, int | None], None] | None = None,
) -> ExtractResult:
    lease_name = f"extract:{route}"
    leases.acquire(store, lease_name, holder, lease_seconds("extract"))
    try:
        return _pull(store, route, compiled, source, resource, run_id, holder, since, on_page, lease_name)
    finally:
        leases.release(store, lease_name, holder)


def _pull(store, route, compiled, source, resource, run_id, holder, since, on_page, lease_name):  # noqa: ANN001, ANN202
    result = ExtractResult()
    stored = load_watermark(store, route)
    if since is not None:
        start = KeysetMark(updated=since)
    elif stored is not None:
        start = KeysetMark(updated=stored.updated, ids=set(stored.ids))
    else:
        start = KeysetMark()
    seen_ids: set[str] = set()
    for page in source.pages(resource, start):
        pulled = [_pulled(compiled, record) for record in page.records]
        seen_ids.update(p.source_id for p in pulled)
        # A resync never moves the watermark back; a normal pull moves it with every page.
        mark = None if since is not None else StoredMark(page.mark.updated or "", frozenset(page.mark.ids))
        if mark is not None and not mark.updated:
            mark = None
        staged, unchanged = stage_page(store, route, pulled, run_id, mark)
        result.pulled += len(pulled)
        result.staged += staged
        result.unchanged += unchanged
        result.pages += 1
        result.watermark = page.mark.updated
        leases.renew(store, lease_name, holder, lease_seconds("extract"))
        if on_page:
            on_page(len(pulled), page.total)
    if since is not None:
        result.tombstones = _detect_deletions(store, route, source, resource, since, seen_ids)
        result.watermark = stored.updated if stored else None
    return result


def _pulled(compiled, record: Any) -> PulledRecord:  # noqa: ANN001
    """What staging needs of one source record.  Nothing here may raise on hostile data: a record
    that is not an object, or whose key, id or agency cannot be read, is staged as a placeholder
    (``lienthong.store.unstageable``) and quarantined, and the page goes on."""
    if not isinstance(record, dict):
        return PulledRecord("", "", "", record, problem="the record is not a JSON object")
    source_id = _text(record.get("id"))
    try:
        key = compiled.record_key(record)
    except MappingError:
        key = None
    except Exception as exc:  # noqa: BLE001 - hostile data must not stop the page
        return PulledRecord(
            "", source_id, "", record, problem=f"the record key cannot be read ({type(exc).__name__})"
        )
    try:
        agency = compiled.agency(record)
    except Exception:  # noqa: BLE001
        agency = None
    problem = None if source_instant(record) is not None else "the updated time cannot be read"
    # A record without a usable key is still staged (under its source id) so that mapping
    # quarantines it with a clear message rather than it vanishing here.
    return PulledRecord(
        record_key=str(key) if key not in (None, "") else f"id:{source_id}",
        source_id=source_id,
        source_updated=_text(record.get("updatedDate")),
        body=record,
        agency=agency,
        problem=problem,
    )


def _text(value: Any) -> str:
    return "" if value is None else value if isinstance(value, str) else str(value)


def _detect_deletions(
    store: Store, route: str, source: MotcuaSource, resource: str, since: str, seen: set[str]
) -> int:
    """Records staged before in the window that the source no longer lists and no longer serves."""
    from connectors.motcua import parse_source_time

    since_at = parse_source_time(since)
    with store.session() as session:
        rows = session.execute(
            select(StagedRecord.record_key, StagedRecord.source_id, StagedRecord.source_updated)
            .where(StagedRecord.route == route)
            .order_by(StagedRecord.id)
        ).all()
        tombstoned = set(
            session.execute(select(Tombstone.record_key).where(Tombstone.route == route)).scalars()
        )
    candidates: dict[str, tuple[str, str]] = {}
    for key, source_id, updated in rows:
        candidates[source_id] = (key, updated)  # the newest version of each source id wins
    found = 0
    for source_id, (key, updated) in candidates.items():
        at = source_instant({"updatedDate": updated})
        if source_id in seen or key in tombstoned or at is None or at < since_at:
            continue  # (no readable time: a placeholder of a hostile record, quarantined already)
        if not source_id or source_id.startswith("unusable:"):
            continue  # a placeholder of a record without a usable id: it cannot be looked up

        if source.get(resource, source_id) is not None:
            continue  # still there (it moved past the window's end while we paged)
        with store.session() as session:
            session.add(
                Tombstone(
                    route=route,
                    record_key=key,
                    source_id=source_id,
                    reason="no longer served by the source (deleted there); the target has no delete operation",
                    state="review",
                    detected_at=utcnow(),
                )
            )
        log.warning("route %s: record %s was deleted at the source; tombstone raised for review", route, key)
        found += 1
    return found
