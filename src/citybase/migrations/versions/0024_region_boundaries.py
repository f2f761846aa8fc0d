"""Regions' outlines (GeoJSON, WGS84) with their bounding boxes and tiles, so that a point is
placed in its district, street, community and grid.

Revision ID: 0024
Revises: 0023
Create Date: 2026-11-30 09:42:51.300430
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import citybase.core.db.base

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "region_boundaries",
        sa.Column("region_code", sa.String(length=20), nullable=False),
        sa.Column(
            "geometry",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("tile", sa.String(length=24), nullable=False),
        sa.Column("west", sa.Float(), nullable=False),
        sa.Column("south", sa.Float(), nullable=False),
        sa.Column("east", sa.Float(), nullable=False),
        sa.Column("north", sa.Float(), nullable=False),
        sa.Column("area_km2", sa.Float(), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("created_at", citybase.core.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", citybase.core.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["region_code"],
            ["regions.code"],
            name=op.f("fk_region_boundaries_region_code_regions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("region_code", name=op.f("pk_region_boundaries")),
    )
    with op.batch_alter_table("region_boundaries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_region_boundaries_tile"), ["tile"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("region_boundaries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_region_boundaries_tile"))
    op.drop_table("region_boundaries")
