"""audit: the hash-chained ledger and its head, the payload archive, signed checkpoints, verifications

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 11:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

GENESIS = "0" * 64


def upgrade() -> None:
    op.create_table(
        "audit_ledger",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("event", sa.String(length=30), nullable=False),
        sa.Column("route", sa.String(length=100), nullable=True),
        sa.Column("record_key", sa.String(length=200), nullable=True),
        sa.Column("target", sa.String(length=100), nullable=True),
        sa.Column("operation", sa.String(length=100), nullable=True),
        sa.Column("mapping_version", sa.String(length=80), nullable=True),
        sa.Column("actor", sa.String(length=150), nullable=True),
        sa.Column("outcome", sa.String(length=30), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
    )
    op.create_index("ix_audit_ledger_key", "audit_ledger", ["record_key", "seq"])
    op.create_index("ix_audit_ledger_event", "audit_ledger", ["event", "route"])
    op.create_index("ix_audit_ledger_at", "audit_ledger", ["at"])
    head = op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.bulk_insert(head, [{"id": 1, "seq": 0, "hash": GENESIS}])
    op.create_table(
        "audit_archive",
        sa.Column("digest", sa.String(length=80), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("key_id", sa.String(length=40), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("digest"),
    )
    op.create_index("ix_audit_archive_created_at", "audit_archive", ["created_at"])
    op.create_table(
        "audit_checkpoints",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("entries", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("key_id", sa.String(length=40), nullable=False),
        sa.Column("signature", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "audit_verifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(length=150), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("entries", sa.Integer(), nullable=False),
        sa.Column("head_seq", sa.Integer(), nullable=False),
        sa.Column("checkpoints", sa.Integer(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("problem", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("audit_verifications")
    op.drop_table("audit_checkpoints")
    op.drop_index("ix_audit_archive_created_at", table_name="audit_archive")
    op.drop_table("audit_archive")
    op.drop_table("audit_head")
    op.drop_index("ix_audit_ledger_at", table_name="audit_ledger")
    op.drop_index("ix_audit_ledger_event", table_name="audit_ledger")
    op.drop_index("ix_audit_ledger_key", table_name="audit_ledger")
    op.drop_table("audit_ledger")
