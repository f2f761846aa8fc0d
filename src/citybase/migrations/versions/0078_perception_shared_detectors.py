"""Anomaly detectors shared by every ingesting process: perception_rule_states.detector_version,
detector_writer and detector_written_at, so that a process knows when its detector in memory is
out of date and whether another process judges the series now.

Revision ID: 0078
Revises: 0077
Create Date: 2026-12-10 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import citybase.core.db.base

revision: str = "0078"
down_revision: str | None = "0077"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("perception_rule_states") as batch:
        batch.add_column(
            sa.Column("detector_version", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(
            sa.Column("detector_writer", sa.String(100), nullable=False, server_default="")
        )
        batch.add_column(
            sa.Column("detector_written_at", citybase.core.db.base.UTCDateTime(timezone=True))
        )


def downgrade() -> None:
    with op.batch_alter_table("perception_rule_states") as batch:
        batch.drop_column("detector_written_at")
        batch.drop_column("detector_writer")
        batch.drop_column("detector_version")
