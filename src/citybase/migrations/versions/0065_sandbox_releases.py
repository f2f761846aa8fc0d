"""De-identified micro-data releases of the sandbox (去标识化数据发布).

Revision ID: 0065
Revises: 0064
Create Date: 2026-12-06 21:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import citybase.core.db.base

revision: str = "0065"
down_revision: str | None = "0064"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
_WHEN = citybase.core.db.base.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "sandbox_releases",
        sa.Column("resource_code", sa.String(length=60), nullable=False),
        sa.Column("provider_unit_code", sa.String(length=40), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("legal_basis", sa.Text(), nullable=False),
        sa.Column("spec", _JSON, nullable=False),
        sa.Column("recipients", _JSON, nullable=False),
        sa.Column("open_to_all", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("report", _JSON, nullable=False),
        sa.Column("columns", _JSON, nullable=False),
        sa.Column("rows", _JSON, nullable=False),
        sa.Column("access_id", sa.BigInteger(), nullable=True),
        sa.Column("prepared_by", sa.String(length=100), nullable=False),
        sa.Column("reviewed_by", sa.String(length=100), nullable=False),
        sa.Column("reviewed_at", _WHEN, nullable=True),
        sa.Column("review_note", sa.Text(), nullable=False),
        sa.Column("published_by", sa.String(length=100), nullable=False),
        sa.Column("published_at", _WHEN, nullable=True),
        sa.Column("downloads", sa.Integer(), nullable=False),
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.Column("updated_at", _WHEN, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sandbox_releases")),
    )
    with op.batch_alter_table("sandbox_releases", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sandbox_releases_resource_code"), ["resource_code"])
        batch_op.create_index(
            batch_op.f("ix_sandbox_releases_provider_unit_code"), ["provider_unit_code"]
        )
        batch_op.create_index(batch_op.f("ix_sandbox_releases_status"), ["status"])


def downgrade() -> None:
    with op.batch_alter_table("sandbox_releases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sandbox_releases_status"))
        batch_op.drop_index(batch_op.f("ix_sandbox_releases_provider_unit_code"))
        batch_op.drop_index(batch_op.f("ix_sandbox_releases_resource_code"))
    op.drop_table("sandbox_releases")
