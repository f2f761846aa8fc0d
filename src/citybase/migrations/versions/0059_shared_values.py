"""Shared values: short-lived values every process reads (the progress of long work).

Revision ID: 0059
Revises: 0057
Create Date: 2026-12-06 16:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0059"
down_revision: str | None = "0057"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "shared_values",
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_shared_values")),
    )
    op.create_index(
        op.f("ix_shared_values_expires_at"), "shared_values", ["expires_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_shared_values_expires_at"), table_name="shared_values")
    op.drop_table("shared_values")
