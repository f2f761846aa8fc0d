"""A partial index on the open cases that have a point, newest first: the city-brain map's dots
read a thousand of them without going through the rest.

Revision ID: 0025
Revises: 0024
Create Date: 2026-11-30 11:19:27.047247
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN_POINTS = "state NOT IN ('closed', 'merged') AND lon IS NOT NULL"


def upgrade() -> None:
    with op.batch_alter_table("hub_cases", schema=None) as batch_op:
        batch_op.create_index(
            "ix_hub_cases_open_points", ["accepted_at"], unique=False,
            sqlite_where=sa.text(OPEN_POINTS), postgresql_where=sa.text(OPEN_POINTS),
        )  # fmt: skip


def downgrade() -> None:
    with op.batch_alter_table("hub_cases", schema=None) as batch_op:
        batch_op.drop_index("ix_hub_cases_open_points")
