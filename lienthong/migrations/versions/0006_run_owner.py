"""runs.owner and runs.lease_expires_at: who runs a run (host:pid, or the Airflow DAG run) and until when

A run whose process died (SIGKILL, a lost machine) used to stay ``running`` forever.  The next process
that opens the store closes it as ``abandoned`` when its recorded process no longer exists on this
host, or when its lease (renewed while it works) expired on another host.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 20:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("owner", sa.String(length=250), nullable=True))
        batch_op.add_column(sa.Column("lease_expires_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_column("lease_expires_at")
        batch_op.drop_column("owner")
