"""NGSI-LD notifications given up are kept for an operator: perception_notifications.given_up_at.

Revision ID: 0076
Revises: 0074
Create Date: 2026-12-07 04:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import citybase.core.db.base

revision: str = "0076"
down_revision: str | None = "0074"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("perception_notifications") as batch:
        batch.add_column(
            sa.Column(
                "given_up_at", citybase.core.db.base.UTCDateTime(timezone=True), nullable=True
            )
        )
        batch.create_index("ix_perception_notifications_given_up_at", ["given_up_at"])


def downgrade() -> None:
    with op.batch_alter_table("perception_notifications") as batch:
        batch.drop_index("ix_perception_notifications_given_up_at")
        batch.drop_column("given_up_at")
