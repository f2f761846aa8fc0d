"""Theme libraries (主题库): their definitions, grades, schedules and builds.

Revision ID: 0037
Revises: 0036
Create Date: 2026-12-06 06:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import citybase.core.db.base

revision: str = "0037"
down_revision: str | None = "0036"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
WHEN = citybase.core.db.base.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "baselib_themes",
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("owner_unit_code", sa.String(length=40), nullable=False),
        sa.Column("spec", JSON, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("refresh_hours", sa.Integer(), nullable=False),
        sa.Column("resource_code", sa.String(length=40), nullable=False),
        sa.Column("source_grade", sa.String(length=20), nullable=False),
        sa.Column("reviewed_grade", sa.String(length=20), nullable=False),
        sa.Column("review_reason", sa.Text(), nullable=False),
        sa.Column("quality_score", sa.Float(), nullable=True),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("last_built_at", WHEN, nullable=True),
        sa.Column("next_due_at", WHEN, nullable=True),
        sa.Column("built_by", sa.String(length=100), nullable=False),
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_baselib_themes")),
        sa.UniqueConstraint("code", name=op.f("uq_baselib_themes_code")),
    )
    with op.batch_alter_table("baselib_themes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_baselib_themes_owner_unit_code"), ["owner_unit_code"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_baselib_themes_resource_code"), ["resource_code"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_baselib_themes_next_due_at"), ["next_due_at"], unique=False
        )

    op.create_table(
        "baselib_theme_builds",
        sa.Column("theme_id", ID, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("started_at", WHEN, nullable=False),
        sa.Column("finished_at", WHEN, nullable=True),
        sa.Column("built_by", sa.String(length=100), nullable=False),
        sa.Column("scheduled", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("sources", JSON, nullable=False),
        sa.Column("grade", sa.String(length=20), nullable=False),
        sa.Column("quality_score", sa.Float(), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.ForeignKeyConstraint(
            ["theme_id"],
            ["baselib_themes.id"],
            name=op.f("fk_baselib_theme_builds_theme_id_baselib_themes"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_baselib_theme_builds")),
    )
    with op.batch_alter_table("baselib_theme_builds", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_baselib_theme_builds_theme_id"), ["theme_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("baselib_theme_builds", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_baselib_theme_builds_theme_id"))
    op.drop_table("baselib_theme_builds")
    with op.batch_alter_table("baselib_themes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_baselib_themes_next_due_at"))
        batch_op.drop_index(batch_op.f("ix_baselib_themes_resource_code"))
        batch_op.drop_index(batch_op.f("ix_baselib_themes_owner_unit_code"))
    op.drop_table("baselib_themes")
