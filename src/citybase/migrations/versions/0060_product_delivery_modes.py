"""Data-product deliveries by mode: the API, a signed file, a sandboxed analysis.

Revision ID: 0060
Revises: 0059
Create Date: 2026-12-06 20:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0060"
down_revision: str | None = "0059"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("products_deliveries") as batch:
        batch.add_column(sa.Column("mode", sa.String(length=10), server_default="api",
                                   nullable=False))  # fmt: skip
        batch.add_column(sa.Column("file_format", sa.String(length=10), server_default="",
                                   nullable=False))  # fmt: skip
        batch.add_column(sa.Column("file_sm3", sa.String(length=64), server_default="",
                                   nullable=False))  # fmt: skip
        batch.add_column(sa.Column("signature", sa.Text(), server_default="", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("products_deliveries") as batch:
        batch.drop_column("signature")
        batch.drop_column("file_sm3")
        batch.drop_column("file_format")
        batch.drop_column("mode")
