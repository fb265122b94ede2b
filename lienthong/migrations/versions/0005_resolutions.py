"""resolutions: a person's decision on a tombstone or a review row (who, when, why, which decision)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 20:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "resolutions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("route", sa.String(length=100), nullable=False),
        sa.Column("record_key", sa.String(length=200), nullable=False),
        sa.Column("decision", sa.String(length=30), nullable=False),
        sa.Column("actor", sa.String(length=150), nullable=False),
        sa.Column("os_user", sa.String(length=150), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("resolved_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_resolutions_item", "resolutions", ["kind", "item_id"])


def downgrade() -> None:
    op.drop_index("ix_resolutions_item", table_name="resolutions")
    op.drop_table("resolutions")
