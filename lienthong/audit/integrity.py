"""Before a claimed row is sent: is its payload the one the ledger certified?

The ledger records a row's ``payload_hash`` when the transform queues it and the archive keeps that
payload; the sender reads ``outbox.payload``.  Someone who can write the outbox (no key needed) could
put another text there: it would be delivered while the ledger kept the original's digest and a
checkpoint signed it.  So every claimed row is checked, before anything is sent:

- its payload must hash to its ``payload_hash`` (a format-3 sealed payload names the digest it was
  sealed for, bound by the cipher; its plain text was checked against that digest when opened);
- while sealing is on, it must have been sealed (a plain text in the column was not written by the
  gateway);
- a sealed payload must open (an altered one reads as a note marked ``broken``, see
  :class:`lienthong.audit.sealing.SealedText`).

A row that fails goes to ``review`` with an integrity reason and an ``integrity`` ledger entry (in the
same transaction), and is never sent; the batch's other rows go on.  Costs: one sha256 of each
unsealed-format payload; nothing for format 3 (the check was part of opening it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lienthong import states
from lienthong.audit.chain import Event, append
from lienthong.audit.config import enabled
from lienthong.jsoncanon import digest
from lienthong.store import outbox

INTEGRITY = "integrity"  # the ledger event of a row refused before sending


def problem(row: Any, sealing_on: bool) -> tuple[str, str | None] | None:
    """``(reason, digest found)`` when ``row``'s payload is not the certified one, else None."""
    payload = row.payload
    if payload is None:
        return "payload missing", None
    if getattr(payload, "broken", None):
        return "sealed payload does not open (altered at rest)", None
    if sealing_on and not getattr(payload, "sealed", False):
        return "payload not sealed while sealing is on (not written by the gateway)", digest(payload)
    bound = getattr(payload, "digest", None)
    found = bound if bound is not None else digest(payload)
    if found != row.payload_hash:
        return "payload does not match its payload_hash", found
    return None


class _Refusals:
    """The ledger entries of refused rows, written with their new state (``record_outcomes``)."""

    def __init__(self, store: Any, events: list[Event]) -> None:
        self.store, self.events = store, events
        # SQLite: audited writes queue on the store's process lock, as DeliveryAudit's do.
        self.lock = store.claim_lock if not store.is_postgres else None

    def __call__(self, connection: Any) -> None:
        append(connection, self.store, self.events)


def screen(store: Any, rows: Sequence[Any], owner: str) -> tuple[list[Any], list[outbox.Outcome]]:
    """``(rows to send, outcomes of the refused)``: refused rows are already in ``review``."""
    audit_on = enabled(store)
    good: list[Any] = []
    refused: list[outbox.Outcome] = []
    events: list[Event] = []
    for row in rows:
        found = problem(row, audit_on)
        if found is None:
            good.append(row)
            continue
        reason, found_digest = found
        error = f"integrity: {reason} (expected {row.payload_hash}); not sent"
        refused.append(outbox.Outcome(row.id, states.REVIEW, attempts=0, error=error))
        events.append(
            Event(
                INTEGRITY,
                route=row.route,
                record_key=row.record_key,
                target=row.target,
                operation=row.operation,
                mapping_version=row.mapping_version,
                actor=owner,
                outcome=states.REVIEW,
                detail={
                    "row_id": row.id,
                    "version": row.seq,
                    "reason": reason,
                    "expected_digest": row.payload_hash,
                    "found_digest": found_digest,
                },
            )
        )
    if refused:
        outbox.record_outcomes(store, owner, refused, _Refusals(store, events) if audit_on else None)
    return good, refused
