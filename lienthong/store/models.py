"""The gateway's durable state: one schema for SQLite (embedded) and PostgreSQL (production).

Timestamps are naive UTC (``lienthong.clock.utcnow``) so both databases compare them the same way.
JSON bodies are kept as canonical JSON text: the content hash is computed over exactly those bytes,
and the audit ledger (a later layer) can digest them without re-serialising.

States use DESIGN.md's vocabulary; see :mod:`lienthong.states`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from lienthong.audit.sealing import SealedText  # encrypted at rest, opened on read (lienthong/audit)

#: The live outbox states, as the partial index ``ix_outbox_live`` and the claim query both spell it
#: (SQLite matches a partial index's predicate textually).
LIVE_PREDICATE = "state IN ('pending', 'retry_scheduled', 'in_flight')"


class Base(DeclarativeBase):
    pass


class Run(Base):
    """One execution of a route (``lienthong run``, a resync, a DAG run's task)."""

    __tablename__ = "runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    route: Mapped[str] = mapped_column(String(100), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # run | resync | replay | deliver
    actor: Mapped[str] = mapped_column(String(100))
    started_at: Mapped[datetime] = mapped_column(DateTime)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    status: Mapped[str] = mapped_column(String(20))  # lienthong.outcomes: running ... abandoned
    counts: Mapped[str] = mapped_column(Text, default="{}")  # JSON summary
    error: Mapped[str | None] = mapped_column(Text)
    #: ``host:pid:`` of the process running it, or ``airflow:<dag run id>`` (lienthong.store.runs).
    owner: Mapped[str | None] = mapped_column(String(250))
    #: Renewed while the run works; past it, a run of another host is taken as abandoned.
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime)


class Watermark(Base):
    """How far a route's incremental pull got: the last ``updatedDate`` and the ids seen at it."""

    __tablename__ = "watermarks"

    route: Mapped[str] = mapped_column(String(100), primary_key=True)
    source_updated: Mapped[str] = mapped_column(String(40))
    ids_at_mark: Mapped[str] = mapped_column(Text, default="[]")  # JSON list of source ids at that timestamp
    changed_at: Mapped[datetime] = mapped_column(DateTime)


class Lease(Base):
    """A named lease (the one extractor per route, ...) that expires if its holder dies."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(150), primary_key=True)
    holder: Mapped[str] = mapped_column(String(150))
    acquired_at: Mapped[datetime] = mapped_column(DateTime)
    expires_at: Mapped[datetime] = mapped_column(DateTime)


class StagedRecord(Base):
    """One version of a source record, as pulled (raw JSON), before mapping."""

    __tablename__ = "staged_records"
    __table_args__ = (
        UniqueConstraint("route", "record_key", "content_hash", name="uq_staged_version"),
        Index("ix_staged_route_state", "route", "state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    route: Mapped[str] = mapped_column(String(100))
    record_key: Mapped[str] = mapped_column(String(200), index=True)
    source_id: Mapped[str] = mapped_column(String(100))
    source_updated: Mapped[str] = mapped_column(String(40))
    agency: Mapped[str | None] = mapped_column(String(50))  # source.agency: reconciliation per agency
    content_hash: Mapped[str] = mapped_column(String(80))
    body: Mapped[str] = mapped_column(SealedText)
    state: Mapped[str] = mapped_column(String(20))  # staged | mapped | quarantined | filtered | unchanged
    state_reason: Mapped[str | None] = mapped_column(Text)
    mapping_version: Mapped[str | None] = mapped_column(String(80))
    staged_at: Mapped[datetime] = mapped_column(DateTime)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id"))


class QuarantineEntry(Base):
    """A record version that failed mapping or validation: fix the record or the mapping, then replay."""

    __tablename__ = "quarantine"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    route: Mapped[str] = mapped_column(String(100), index=True)
    record_key: Mapped[str] = mapped_column(String(200))
    staged_id: Mapped[int] = mapped_column(ForeignKey("staged_records.id"))
    mapping_version: Mapped[str] = mapped_column(String(80))
    message: Mapped[str] = mapped_column(Text)
    errors: Mapped[str] = mapped_column(Text)  # JSON list of {field, rule, message}
    state: Mapped[str] = mapped_column(String(20))  # open | replayed | superseded
    created_at: Mapped[datetime] = mapped_column(DateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime)


class OutboxRow(Base):
    """One version of one payload for one target operation: the unit of delivery."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_claim", "target", "operation", "state", "next_attempt_at"),
        Index("ix_outbox_key", "target", "operation", "record_key", "seq"),
        Index("ix_outbox_route_state", "route", "state"),
        # The reconciliation's per-key gap and the settling of older alarms go from a staged version
        # to the rows it fed (measured: without it the per-key pass cost 2–3.5× the per-version counts).
        Index("ix_outbox_staged", "staged_id"),
        # Claims look only at live rows, oldest first: a partial index keeps that cheap however many
        # acknowledged rows the outbox accumulates.
        Index(
            "ix_outbox_live",
            "target",
            "operation",
            "id",
            postgresql_where=text(LIVE_PREDICATE),
            sqlite_where=text(LIVE_PREDICATE),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    route: Mapped[str] = mapped_column(String(100))
    target: Mapped[str] = mapped_column(String(100))
    operation: Mapped[str] = mapped_column(String(100))
    record_key: Mapped[str] = mapped_column(String(200))
    seq: Mapped[int] = mapped_column(Integer)  # version number per (target, operation, record_key)
    payload: Mapped[str] = mapped_column(SealedText)
    payload_hash: Mapped[str] = mapped_column(String(80))
    item_count: Mapped[int] = mapped_column(Integer, default=1)
    mapping_version: Mapped[str] = mapped_column(String(80))
    idempotency_key: Mapped[str] = mapped_column(String(400), unique=True)
    staged_id: Mapped[int | None] = mapped_column(ForeignKey("staged_records.id"))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id"))
    state: Mapped[str] = mapped_column(String(20))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime)
    lease_owner: Mapped[str | None] = mapped_column(String(150))
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime)
    response: Mapped[str | None] = mapped_column(SealedText)  # JSON summary of the target's answer
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(DateTime)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id"))


class Tombstone(Base):
    """A source record that vanished (deleted in the one-stop system): raised for review, never deleted."""

    __tablename__ = "tombstones"
    __table_args__ = (UniqueConstraint("route", "record_key", name="uq_tombstone"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    route: Mapped[str] = mapped_column(String(100))
    record_key: Mapped[str] = mapped_column(String(200))
    source_id: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(20))  # review | resolved
    detected_at: Mapped[datetime] = mapped_column(DateTime)


class TargetState(Base):
    """Per-target protection shared by every worker: the circuit breaker and the rate limiter's bucket."""

    __tablename__ = "target_state"

    target: Mapped[str] = mapped_column(String(100), primary_key=True)
    breaker: Mapped[str] = mapped_column(String(20), default="closed")  # closed | open | half_open
    failures: Mapped[int] = mapped_column(Integer, default=0)  # consecutive failed calls
    opened_at: Mapped[datetime | None] = mapped_column(DateTime)
    probe_at: Mapped[datetime | None] = mapped_column(DateTime)  # when an open breaker lets one call through
    probe_owner: Mapped[str | None] = mapped_column(String(150))
    last_error: Mapped[str | None] = mapped_column(Text)
    tokens: Mapped[float | None] = mapped_column(Float)
    tokens_at: Mapped[datetime | None] = mapped_column(DateTime)
    changed_at: Mapped[datetime] = mapped_column(DateTime)


class Replay(Base):
    """Who asked for dead letters or quarantined records to be tried again, when, and which."""

    __tablename__ = "replays"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # dead | quarantine
    actor: Mapped[str] = mapped_column(String(100))
    requested_at: Mapped[datetime] = mapped_column(DateTime)
    route: Mapped[str | None] = mapped_column(String(100))
    item_ids: Mapped[str] = mapped_column(Text)  # JSON list of outbox row ids / quarantine entry ids
    count: Mapped[int] = mapped_column(Integer)
    mode: Mapped[str] = mapped_column(String(20))  # resend | remap
    note: Mapped[str | None] = mapped_column(Text)


# --- audit (lienthong/audit): the ledger, its head, the payload archive, checkpoints, verifications ---


class LedgerEntry(Base):
    """One event in the life of a record (or of the gateway), hash-chained to the entry before it.

    Codes and digests only: never personal data.  The hash covers the canonical encoding of every
    column but ``prev_hash``/``hash`` and the previous entry's hash (``lienthong.audit.canonical``)."""

    __tablename__ = "audit_ledger"
    __table_args__ = (
        Index("ix_audit_ledger_key", "record_key", "seq"),
        Index("ix_audit_ledger_event", "event", "route"),
        Index("ix_audit_ledger_at", "at"),
    )

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(DateTime)
    event: Mapped[str] = mapped_column(String(30))
    route: Mapped[str | None] = mapped_column(String(100))
    record_key: Mapped[str | None] = mapped_column(String(200))
    target: Mapped[str | None] = mapped_column(String(100))
    operation: Mapped[str | None] = mapped_column(String(100))
    mapping_version: Mapped[str | None] = mapped_column(String(80))
    actor: Mapped[str | None] = mapped_column(String(150))
    outcome: Mapped[str | None] = mapped_column(String(30))
    detail: Mapped[str] = mapped_column(Text)  # canonical JSON: digests, codes, timings
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class LedgerHead(Base):
    """The chain head (one row): appenders lock it, so entries get gapless seqs in one chain."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))


class ArchivedBody(Base):
    """A request or response body, sealed (zlib + AES-GCM), addressed by the digest of its plain text."""

    __tablename__ = "audit_archive"

    digest: Mapped[str] = mapped_column(String(80), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # request | response
    body: Mapped[str | None] = mapped_column(SealedText)  # None once purged (retention)
    key_id: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(DateTime, index=True)


class AuditCheckpoint(Base):
    """A signed chain head (also appended to the checkpoint file outside the database)."""

    __tablename__ = "audit_checkpoints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))
    entries: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(DateTime)
    key_id: Mapped[str] = mapped_column(String(40))
    signature: Mapped[str] = mapped_column(Text)


class AuditVerification(Base):
    """The result of each ``audit verify`` (shown by the status views)."""

    __tablename__ = "audit_verifications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime)
    actor: Mapped[str] = mapped_column(String(150))
    ok: Mapped[bool] = mapped_column(Boolean)
    entries: Mapped[int] = mapped_column(Integer)
    head_seq: Mapped[int] = mapped_column(Integer)
    checkpoints: Mapped[int] = mapped_column(Integer)
    seconds: Mapped[float] = mapped_column(Float)
    problem: Mapped[str | None] = mapped_column(Text)


class Resolution(Base):
    """A person's decision on a tombstone or a review row (lienthong.store.resolutions)."""

    __tablename__ = "resolutions"
    __table_args__ = (Index("ix_resolutions_item", "kind", "item_id"),)

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

    def to_dict(self) -> dict[str, object]:
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
