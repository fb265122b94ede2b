"""An index on outbox.staged_id: the reconciliation's per-key gap and the settling of older alarms
join a staged version to the outbox rows it fed.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 21:10:00
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_outbox_staged", "outbox", ["staged_id"])


def downgrade() -> None:
    op.drop_index("ix_outbox_staged", table_name="outbox")
