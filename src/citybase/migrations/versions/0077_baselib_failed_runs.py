"""A linkage run that fails is kept with why: baselib_runs.error.

Revision ID: 0077
Revises: 0076
Create Date: 2026-12-09 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0077"
down_revision: str | None = "0076"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("baselib_runs") as batch:
        batch.add_column(sa.Column("error", sa.Text(), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("baselib_runs") as batch:
        batch.drop_column("error")
