"""The events the pipeline emits, built where the state change happens (one helper per step).

Every event holds codes and digests only: route, record key (a dossier code), target, operation,
mapping version, the content or payload digest, row ids, states, timings, field names and rule
names of a failed mapping.  Never a name, an identity number, a phone number or an address:
those stay in the sealed staged record and the sealed archive.
"""

from __future__ import annotations

from typing import Any

from lienthong.audit.chain import Event
from lienthong.masking import mask_text

PULLED = "pulled"
MAPPED = "mapped"
QUARANTINED = "quarantined"
FILTERED = "filtered"
UNCHANGED = "unchanged"
ATTEMPT = "attempt"
REVIEW = "review"
REPLAYED = "replayed"
MAPPING_CHANGE = "mapping_change"
UNMASK = "unmask"
PURGE = "purge"
#: An alarm (dead letter, review row, quarantine entry) closed because a newer version settled it.
SUPERSEDED = "superseded"
#: ``lienthong remap``: a delivered record queued again under the current mapping.
REMAPPED = "remapped"
#: How many delivered records of a route the current mapping would change (``remap --dry-run``).
MAPPING_DRIFT = "mapping_drift"


def pulled(route: str, staged: Any, actor: str | None) -> Event:
    return Event(
        PULLED,
        route=route,
        record_key=staged.record_key,
        actor=actor,
        outcome="staged",
        detail={
            "staged_id": staged.id,
            "content_digest": staged.content_hash,
            "source_id": staged.source_id,
            "source_updated": staged.source_updated,
        },
    )


def map_verdict(
    route: str,
    staged: Any,
    verdict: str,
    version: str,
    actor: str | None,
    *,
    rows: list[dict[str, Any]] | None = None,
    errors: list[dict[str, str]] | None = None,
    target: tuple[str, str] | None = None,
) -> Event:
    """A staged version's fate in the transform: mapped (with the outbox rows it queued), quarantined
    (with the failed fields and rules: names only, never values), filtered or unchanged."""
    detail: dict[str, Any] = {"staged_id": staged.id, "content_digest": staged.content_hash}
    if rows:
        detail["rows"] = rows
    if errors is not None:
        detail["errors"] = [{"field": e.get("field"), "rule": e.get("rule")} for e in errors]
    return Event(
        verdict,
        route=route,
        record_key=staged.record_key,
        target=target[0] if target else None,
        operation=target[1] if target else None,
        mapping_version=version,
        actor=actor,
        outcome=verdict,
        detail=detail,
    )


def attempt(
    row: Any, outcome: Any, actor: str, *, calls: int, millis: float, response_digest: str | None
) -> Event:
    """One delivery batch's result for one row, as one entry: the attempt (request and response
    digests, calls, time) and, as its outcome, the state it left the row in (acknowledged, retry
    scheduled with the next attempt's time, dead, review).  One entry, not two: the attempt and the
    state change commit in one transaction, and a second entry per row cost a third of the ledger's
    volume on the delivery path."""
    detail: dict[str, Any] = {
        "row_id": row.id,
        "version": row.seq,
        "request_digest": row.payload_hash,
        "response_digest": response_digest,
        "calls": calls,
        "attempts_total": (row.attempts or 0) + outcome.attempts,
        "millis": round(millis, 1),
    }
    if outcome.error:
        detail["error"] = mask_text(outcome.error)[:300]
    if outcome.next_attempt_at is not None:
        detail["next_attempt_at"] = outcome.next_attempt_at.isoformat(timespec="seconds")
    return Event(
        ATTEMPT,
        route=row.route,
        record_key=row.record_key,
        target=row.target,
        operation=row.operation,
        mapping_version=row.mapping_version,
        actor=actor,
        outcome=outcome.state,
        detail=detail,
    )


def replayed(
    row_or_entry: Any,
    *,
    kind: str,
    mode: str,
    replay_id: int | None,
    actor: str,
    note: str | None,
    overwrites: dict[str, Any] | None = None,
) -> Event:
    """``overwrites``: a ``--force-stale`` replay's newer version it goes over (ids, version, time)."""
    detail: dict[str, Any] = {"kind": kind, "mode": mode, "replay_id": replay_id, "item_id": row_or_entry.id}
    if note:
        detail["note"] = mask_text(note)[:500]
    if overwrites:
        detail["force_stale"] = {"overwrites": overwrites}
    return Event(
        REPLAYED,
        route=row_or_entry.route,
        record_key=row_or_entry.record_key,
        target=getattr(row_or_entry, "target", None),
        operation=getattr(row_or_entry, "operation", None),
        mapping_version=row_or_entry.mapping_version,
        actor=actor,
        outcome=mode,
        detail=detail,
    )


def superseded(item: Any, actor: str | None) -> Event:
    """An alarm closed by a newer version (``lienthong.store.settle.Settled``): which item, the state
    it left, why, and the row or staged version that settled it."""
    detail: dict[str, Any] = {
        "kind": item.kind,
        "item_id": item.item_id,
        "previous_state": item.previous_state,
        "reason": mask_text(item.reason)[:300],
    }
    for name in ("version", "staged_id", "by_row_id", "by_version", "by_staged_id"):
        value = getattr(item, name)
        if value is not None:
            detail[name] = value
    return Event(
        SUPERSEDED,
        route=item.route,
        record_key=item.record_key,
        target=item.target,
        operation=item.operation,
        mapping_version=item.mapping_version,
        actor=actor,
        outcome="superseded",
        detail=detail,
    )
