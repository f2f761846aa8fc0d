"""NGSI-LD notifications due, kept until delivered: perception_notifications.

Revision ID: 0071
Revises: 0068
Create Date: 2026-12-06 23:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import citybase.core.db.base

revision: str = "0071"
down_revision: str | None = "0068"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "perception_notifications",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("subscription_id", sa.String(length=256), nullable=False),
        sa.Column("endpoint", citybase.core.db.base.JSONType, nullable=False),
        sa.Column("body", citybase.core.db.base.JSONType, nullable=False),
        sa.Column("headers", citybase.core.db.base.JSONType, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column(
            "next_attempt_at", citybase.core.db.base.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("locked_until", citybase.core.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("created_at", citybase.core.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["subscription_id"], ["perception_subscriptions.id"], ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_perception_notifications_subscription_id", "perception_notifications",
                    ["subscription_id"], unique=False)  # fmt: skip
    op.create_index("ix_perception_notifications_next_attempt_at", "perception_notifications",
                    ["next_attempt_at"], unique=False)  # fmt: skip


def downgrade() -> None:
    op.drop_index("ix_perception_notifications_next_attempt_at",
                  table_name="perception_notifications")  # fmt: skip
    op.drop_index("ix_perception_notifications_subscription_id",
                  table_name="perception_notifications")  # fmt: skip
    op.drop_table("perception_notifications")
