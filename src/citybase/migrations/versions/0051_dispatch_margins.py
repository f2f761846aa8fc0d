"""The promotion margins of each dispatch model, as its centre's quality team sets them.

Revision ID: 0051
Revises: 0053
Create Date: 2026-12-06 12:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import citybase.core.db.base

revision: str = "0051"
down_revision: str | None = "0053"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "hub_dispatch_margins",
        sa.Column("model", sa.String(length=64), nullable=False),
        sa.Column("margin_f1", sa.Double(), nullable=False),
        sa.Column("margin_routed", sa.Double(), nullable=False),
        sa.Column("updated_by", sa.String(length=100), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=False),
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("created_at", citybase.core.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", citybase.core.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hub_dispatch_margins")),
        sa.UniqueConstraint("model", name=op.f("uq_hub_dispatch_margins_model")),
    )


def downgrade() -> None:
    op.drop_table("hub_dispatch_margins")
