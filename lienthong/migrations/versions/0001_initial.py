"""initial schema: runs, watermarks, leases, staging, quarantine, outbox, tombstones

Revision ID: 0001
Revises:
Create Date: 2026-11-29 07:05:08.554334
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "leases",
        sa.Column("name", sa.String(length=150), nullable=False),
        sa.Column("holder", sa.String(length=150), nullable=False),
        sa.Column("acquired_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("route", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("counts", sa.Text(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_runs_route"), ["route"], unique=False)

    op.create_table(
        "tombstones",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("route", sa.String(length=100), nullable=False),
        sa.Column("record_key", sa.String(length=200), nullable=False),
        sa.Column("source_id", sa.String(length=100), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("detected_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("route", "record_key", name="uq_tombstone"),
    )
    op.create_table(
        "watermarks",
        sa.Column("route", sa.String(length=100), nullable=False),
        sa.Column("source_updated", sa.String(length=40), nullable=False),
        sa.Column("ids_at_mark", sa.Text(), nullable=False),
        sa.Column("changed_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("route"),
    )
    op.create_table(
        "staged_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("route", sa.String(length=100), nullable=False),
        sa.Column("record_key", sa.String(length=200), nullable=False),
        sa.Column("source_id", sa.String(length=100), nullable=False),
        sa.Column("source_updated", sa.String(length=40), nullable=False),
        sa.Column("content_hash", sa.String(length=80), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("state_reason", sa.Text(), nullable=True),
        sa.Column("mapping_version", sa.String(length=80), nullable=True),
        sa.Column("staged_at", sa.DateTime(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["runs.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("route", "record_key", "content_hash", name="uq_staged_version"),
    )
    with op.batch_alter_table("staged_records", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_staged_records_record_key"), ["record_key"], unique=False)
        batch_op.create_index("ix_staged_route_state", ["route", "state"], unique=False)

    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("route", sa.String(length=100), nullable=False),
        sa.Column("target", sa.String(length=100), nullable=False),
        sa.Column("operation", sa.String(length=100), nullable=False),
        sa.Column("record_key", sa.String(length=200), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("payload_hash", sa.String(length=80), nullable=False),
        sa.Column("item_count", sa.Integer(), nullable=False),
        sa.Column("mapping_version", sa.String(length=80), nullable=False),
        sa.Column("idempotency_key", sa.String(length=400), nullable=False),
        sa.Column("staged_id", sa.Integer(), nullable=True),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=True),
        sa.Column("lease_owner", sa.String(length=150), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(), nullable=True),
        sa.Column("response", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(), nullable=True),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["outbox.id"],
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["runs.id"],
        ),
        sa.ForeignKeyConstraint(
            ["staged_id"],
            ["staged_records.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("idempotency_key"),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index(
            "ix_outbox_claim", ["target", "operation", "state", "next_attempt_at"], unique=False
        )
        batch_op.create_index("ix_outbox_key", ["target", "operation", "record_key", "seq"], unique=False)
        batch_op.create_index("ix_outbox_route_state", ["route", "state"], unique=False)

    op.create_table(
        "quarantine",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("route", sa.String(length=100), nullable=False),
        sa.Column("record_key", sa.String(length=200), nullable=False),
        sa.Column("staged_id", sa.Integer(), nullable=False),
        sa.Column("mapping_version", sa.String(length=80), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("errors", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("resolved_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["staged_id"],
            ["staged_records.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("quarantine", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_quarantine_route"), ["route"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("quarantine", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_quarantine_route"))

    op.drop_table("quarantine")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_route_state")
        batch_op.drop_index("ix_outbox_key")
        batch_op.drop_index("ix_outbox_claim")

    op.drop_table("outbox")
    with op.batch_alter_table("staged_records", schema=None) as batch_op:
        batch_op.drop_index("ix_staged_route_state")
        batch_op.drop_index(batch_op.f("ix_staged_records_record_key"))

    op.drop_table("staged_records")
    op.drop_table("watermarks")
    op.drop_table("tombstones")
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_runs_route"))

    op.drop_table("runs")
    op.drop_table("leases")
