"""Why and since when each listed gap record is open: the reason (masked, one line, bounded) and the
moment its current state began, read by id for the listed keys only (500 per query).

- quarantined: each error's field and rule (and the mapping's message, which never quotes the value),
  since the first quarantine entry of that version;
- dead, review, superseded: the target's answer (``last_error``), since the row's last change;
- pending: its state, attempts and last error, since it was queued; blocked: which dossier row it
  waits for; tombstone: the tombstone's reason, since its detection; missing / awaiting mapping: a
  fixed text, since the pull.

Every text is masked (:mod:`lienthong.masking`), has control characters written as ``\\xNN`` and is
cut at :data:`REASON_CHARS`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from lienthong.masking import mask_text
from lienthong.record_gap import (
    AWAITING_MAPPING,
    BLOCKED,
    MISSING,
    PENDING,
    QUARANTINED,
    SUPERSEDED,
    TOMBSTONE,
    KeyFate,
    open_tombstones,
)
from lienthong.store.models import OutboxRow, QuarantineEntry

REASON_CHARS = 240
_CHUNK = 500


def _short(text: str | None) -> str:
    """Masked (identity, card and phone numbers), one line, no control characters (``\\xNN``),
    bounded: safe to print anywhere."""
    flat = " ".join(str(text or "").split())
    flat = mask_text("".join(ch if ch.isprintable() else f"\\x{ord(ch):02x}" for ch in flat))
    return flat if len(flat) <= REASON_CHARS else flat[: REASON_CHARS - 1] + "…"


def _quarantine_reason(errors_json: str | None, message: str | None) -> str:
    """Field and rule of each error (mapping messages never quote the value; masked all the same)."""
    try:
        errors = json.loads(errors_json or "[]")
    except ValueError:
        errors = []
    parts = []
    for error in errors if isinstance(errors, list) else []:
        if isinstance(error, dict):
            text = f"{error.get('field') or '?'}: {error.get('rule') or '?'}"
            if error.get("message"):
                text += f" ({error['message']})"
            parts.append(text)
    return _short("; ".join(parts) if parts else message)


def _chunks(values: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for i in range(0, len(values), _CHUNK):
        yield values[i : i + _CHUNK]


def gap_details(session: Session, route: str, listed: Sequence[KeyFate]) -> None:
    """Fill ``reason``, ``since`` and ``target`` of the listed gap keys (a few indexed reads per 500)."""
    tombstones = open_tombstones(session, route) if any(f.fate == TOMBSTONE for f in listed) else {}
    quarantined = [f.staged_id for f in listed if f.fate == QUARANTINED]
    entries: dict[int, tuple[datetime, str]] = {}
    for ids in _chunks(quarantined):
        first = dict(
            session.execute(
                select(QuarantineEntry.staged_id, func.min(QuarantineEntry.created_at))
                .where(QuarantineEntry.staged_id.in_(ids))
                .group_by(QuarantineEntry.staged_id)
            ).all()
        )
        newest = (
            select(func.max(QuarantineEntry.id))
            .where(QuarantineEntry.staged_id.in_(ids))
            .group_by(QuarantineEntry.staged_id)
        )
        for staged_id, errors, message in session.execute(
            select(QuarantineEntry.staged_id, QuarantineEntry.errors, QuarantineEntry.message).where(
                QuarantineEntry.id.in_(newest)
            )
        ):
            entries[staged_id] = (first[staged_id], _quarantine_reason(errors, message))
    rows: dict[int, Any] = {}
    row_ids = [f.row_id for f in listed if f.row_id is not None]
    parent = aliased(OutboxRow, name="parent")
    for ids in _chunks(row_ids):
        for row in session.execute(
            select(
                OutboxRow.id,
                OutboxRow.target,
                OutboxRow.operation,
                OutboxRow.state,
                OutboxRow.attempts,
                OutboxRow.last_error,
                OutboxRow.created_at,
                OutboxRow.updated_at,
                parent.state.label("parent_state"),
            )
            .outerjoin(parent, parent.id == OutboxRow.parent_id)
            .where(OutboxRow.id.in_(ids))
        ):
            rows[row.id] = row
    for item in listed:
        _describe(item, tombstones.get(item.record_key), entries.get(item.staged_id), rows.get(item.row_id))


def _describe(item: KeyFate, tombstone: Any, entry: Any, row: Any) -> None:  # noqa: ANN401
    if row is not None:
        item.target = f"{row.target}.{row.operation}"
    if item.fate == TOMBSTONE and tombstone:
        item.since, item.reason = tombstone[0], _short(tombstone[1])
    elif item.fate == QUARANTINED:
        item.since, item.reason = entry if entry else (item.staged_at, "quarantined (no entry found)")
    elif item.fate == AWAITING_MAPPING:
        item.since, item.reason = item.staged_at, "a run of the route is mapping it"
    elif item.fate == MISSING:
        item.since = item.staged_at
        item.reason = "in no known state: pulled, but neither mapped to a row nor settled"
    elif row is not None:
        if item.fate == BLOCKED:
            item.since = row.created_at
            item.reason = f"waits for its dossier row ({row.parent_state}): replay that one"
        elif item.fate == PENDING:
            item.since = row.created_at
            tried = f"{row.attempts} attempt{'s' if row.attempts != 1 else ''}"
            item.reason = _short(f"{row.state}, {tried}" + (f": {row.last_error}" if row.last_error else ""))
        else:
            item.since = row.updated_at
            fallback = "a newer row replaced it but none is queued" if item.fate == SUPERSEDED else row.state
            item.reason = _short(row.last_error or fallback)
