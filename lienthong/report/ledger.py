"""The audit ledger as the report shows it: the last ``audit verify`` (from ``audit_verifications``),
the ledger's head now, and its newest signed checkpoint (the signed head an auditor can check offline).

Read-only: the report never verifies (that is ``lienthong audit verify``, recorded when it runs); it
says when that last happened, with what result, and how many entries were appended since.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from lienthong.masking import mask_text
from lienthong.report.model import LedgerState
from lienthong.store.models import AuditCheckpoint, AuditVerification, LedgerHead


def ledger_state(session: Session) -> LedgerState:
    verification = session.execute(
        select(AuditVerification).order_by(AuditVerification.id.desc()).limit(1)
    ).scalar()
    head = session.execute(select(LedgerHead.seq).order_by(LedgerHead.id).limit(1)).scalar()
    signed = session.execute(
        select(AuditCheckpoint).order_by(AuditCheckpoint.seq.desc(), AuditCheckpoint.id.desc()).limit(1)
    ).scalar()
    state = dict(head_seq=int(head or 0))
    if signed is not None:
        state.update(
            signed_seq=signed.seq, signed_hash=signed.hash, signed_at=signed.at, signed_key=signed.key_id
        )
    if verification is not None:
        state.update(
            verified_at=verification.at,
            ok=bool(verification.ok),
            entries=verification.entries,
            verified_seq=verification.head_seq,
            checkpoints=verification.checkpoints,
            problem=mask_text(verification.problem) if verification.problem else None,
        )
    return LedgerState(**state)
