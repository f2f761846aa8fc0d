"""When each dispatch model version became the champion (its reign's start), for the routing
accuracy of each reign.

Revision ID: 0050
Revises: 0049
Create Date: 2026-12-06 09:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import citybase.core.db.base

revision: str = "0050"
down_revision: str | None = "0049"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("hub_dispatch_model_versions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "promoted_at", citybase.core.db.base.UTCDateTime(timezone=True), nullable=True
            )
        )
    # the champions before: their reign is taken to start when they were trained
    op.execute(
        "UPDATE hub_dispatch_model_versions SET promoted_at = trained_at "
        "WHERE status IN ('champion', 'retired')"
    )


def downgrade() -> None:
    with op.batch_alter_table("hub_dispatch_model_versions", schema=None) as batch_op:
        batch_op.drop_column("promoted_at")
