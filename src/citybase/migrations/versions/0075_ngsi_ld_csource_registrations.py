"""NGSI-LD context source registrations: what other brokers hold, for distributed queries.

Revision ID: 0075
Revises: 0073
Create Date: 2026-12-08 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")

revision: str = "0075"
down_revision: str | None = "0073"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "perception_csource_registrations",
        sa.Column("id", sa.String(length=256), nullable=False),
        sa.Column("body", JSON, nullable=False),
        sa.Column("context", JSON, nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=False),
        sa.Column("unit", sa.String(length=64), server_default="", nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("modified_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_perception_csource_registrations_unit",
                    "perception_csource_registrations", ["unit"], unique=False)  # fmt: skip


def downgrade() -> None:
    op.drop_index("ix_perception_csource_registrations_unit",
                  table_name="perception_csource_registrations")  # fmt: skip
    op.drop_table("perception_csource_registrations")
