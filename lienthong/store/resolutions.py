"""A person's decision on something the gateway raised for review, kept for good.

Tombstones (a record deleted at the source) and outbox rows in ``review`` (a correction the target has
no operation for) wait for a person; the gateway never decides them by itself.  Each decision is one
row here (who: the asserted actor and the OS user; when; why: the note; which decision) and one
``resolved`` entry in the audit ledger, written in the same transaction as the state change.
"""

from __future__ import annotations

import getpass
from typing import Any

from sqlalchemy.orm import Session

from lienthong.clock import utcnow
from lienthong.errors import LienthongError
from lienthong.store.models import Resolution

TOMBSTONE = "tombstone"
REVIEW = "review"

__all__ = ["REVIEW", "TOMBSTONE", "Resolution", "ResolveError", "latest_for", "record", "shown"]


def shown(resolution: Resolution | None) -> dict[str, Any] | None:
    """A resolution as listings show it: the note with identity and phone numbers masked (kept as
    typed in the store; a person may have quoted a record's data to say why)."""
    if resolution is None:
        return None
    from lienthong.masking import mask_text

    data = resolution.to_dict()
    data["note"] = mask_text(data["note"])
    return data


def os_user() -> str | None:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name in some containers
        return None


def record(
    session: Session, store: Any, item: Any, *, kind: str, decision: str, actor: str, note: str
) -> Resolution:
    """The resolution row and its ledger entry, in the caller's transaction (with the state change)."""
    from lienthong.audit import hooks

    resolution = Resolution(
        kind=kind,
        item_id=item.id,
        route=item.route,
        record_key=item.record_key,
        decision=decision,
        actor=actor,
        os_user=os_user(),
        note=note,
        resolved_at=utcnow(),
    )
    session.add(resolution)
    session.flush()
    hooks.resolved(session, store, item, resolution)
    return resolution


def latest_for(session: Session, kind: str, item_ids: list[int]) -> dict[int, Resolution]:
    """The last resolution of each item (an item may be resolved, then raised and resolved again)."""
    from sqlalchemy import select

    if not item_ids:
        return {}
    rows = session.execute(
        select(Resolution)
        .where(Resolution.kind == kind, Resolution.item_id.in_(item_ids))
        .order_by(Resolution.id)
    ).scalars()
    return {r.item_id: r for r in rows}


class ResolveError(LienthongError):
    """A resolution that cannot be taken as asked (unknown id, already resolved, no note): nothing changed."""


def require_note(note: str | None) -> None:
    """A decision without its reason is not an audit trail."""
    if not note or not note.strip():
        raise ResolveError("say why (--note): a resolution is kept for auditors with its reason")


def require_open(ids: list[int], items: dict[int, Any], is_open: Any, what: str) -> None:
    """Every named item exists and is open, or nothing is changed (all or none)."""
    if not ids:
        raise ResolveError(f"name the {what}s to resolve (their ids, from the list command)")
    missing = [i for i in ids if i not in items]
    if missing:
        raise ResolveError(f"no {what} {', '.join(map(str, missing))}; nothing changed")
    closed = [i for i in ids if not is_open(items[i])]
    if closed:
        raise ResolveError(f"{what} {', '.join(map(str, closed))} is not open; nothing changed")
