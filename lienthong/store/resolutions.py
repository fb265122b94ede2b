"""A person's decision on something the gateway raised for review, kept for good.

Tombstones (a record deleted at the source) and outbox rows in ``review`` (a correction the target has
no operation for) wait for a person; the gateway never decides them by itself.  Each decision is one
row here (who: the asserted actor and the OS user; when; why: the note; which decision) and one
``resolved`` entry in the audit ledger, written in the same transaction as the state change.
"""

from __future__ import annotations

import getpass
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Integer, String, Text
from sqlalchemy.orm import Mapped, Session, mapped_column

from lienthong.clock import utcnow
from lienthong.errors import LienthongError
from lienthong.store.models import Base

TOMBSTONE = "tombstone"
REVIEW = "review"


class Resolution(Base):
    __tablename__ = "resolutions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # tombstone | review
    item_id: Mapped[int] = mapped_column(Integer)  # tombstones.id or outbox.id
    route: Mapped[str] = mapped_column(String(100))
    record_key: Mapped[str] = mapped_column(String(200))
    decision: Mapped[str] = mapped_column(String(30))  # acknowledge | resend | dismiss
    actor: Mapped[str] = mapped_column(String(150))  # as asserted (--actor, LIENTHONG_ACTOR)
    os_user: Mapped[str | None] = mapped_column(String(150))  # who the process ran as
    note: Mapped[str] = mapped_column(Text)
    resolved_at: Mapped[datetime] = mapped_column(DateTime)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "item_id": self.item_id,
            "decision": self.decision,
            "actor": self.actor,
            "os_user": self.os_user,
            "note": self.note,
            "resolved_at": self.resolved_at.isoformat(timespec="seconds"),
        }


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
