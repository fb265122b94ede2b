"""staged_records.agency: the agency code of each pulled record version (reconciliation per agency)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 10:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("staged_records", schema=None) as batch_op:
        batch_op.add_column(sa.Column("agency", sa.String(length=50), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("staged_records", schema=None) as batch_op:
        batch_op.drop_column("agency")
