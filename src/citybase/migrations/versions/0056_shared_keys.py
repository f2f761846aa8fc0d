"""Shared keys: rate limits, throttles and spent one-time codes held across every process.

Revision ID: 0056
Revises: 0054
Create Date: 2026-12-06 13:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0056"
down_revision: str | None = "0054"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "shared_keys",
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_shared_keys")),
    )
    op.create_index(op.f("ix_shared_keys_expires_at"), "shared_keys", ["expires_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_shared_keys_expires_at"), table_name="shared_keys")
    op.drop_table("shared_keys")
