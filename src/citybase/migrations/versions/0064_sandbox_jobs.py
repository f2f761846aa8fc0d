"""The sandbox's code jobs and their held, released or rejected outputs.

Revision ID: 0064
Revises: 0063
Create Date: 2026-12-06 20:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import citybase.core.db.base

revision: str = "0064"
down_revision: str | None = "0063"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _common() -> list[sa.Column]:  # type: ignore[type-arg]
    return [
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("created_at", citybase.core.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", citybase.core.db.base.UTCDateTime(timezone=True), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "sandbox_jobs",
        sa.Column("username", sa.String(length=100), nullable=False),
        sa.Column("unit_code", sa.String(length=40), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("code_sha256", sa.String(length=64), nullable=False),
        sa.Column("sources", _JSON, nullable=False),
        sa.Column("provider_units", _JSON, nullable=False),
        sa.Column("access_ids", _JSON, nullable=False),
        sa.Column("k", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("rule", sa.String(length=60), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("log", sa.Text(), nullable=False),
        sa.Column("guards", _JSON, nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        *_common(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sandbox_jobs")),
    )
    with op.batch_alter_table("sandbox_jobs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sandbox_jobs_username"), ["username"], unique=False)
    op.create_table(
        "sandbox_job_outputs",
        sa.Column("job_id", _ID, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("check", _JSON, nullable=False),
        sa.Column("reviewed_by", sa.String(length=100), nullable=False),
        sa.Column("reviewed_at", citybase.core.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        *_common(),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["sandbox_jobs.id"],
            name=op.f("fk_sandbox_job_outputs_job_id_sandbox_jobs"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sandbox_job_outputs")),
        sa.UniqueConstraint("job_id", "name", name=op.f("uq_sandbox_job_outputs_job_id_name")),
    )
    with op.batch_alter_table("sandbox_job_outputs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sandbox_job_outputs_job_id"), ["job_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("sandbox_job_outputs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sandbox_job_outputs_job_id"))
    op.drop_table("sandbox_job_outputs")
    with op.batch_alter_table("sandbox_jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sandbox_jobs_username"))
    op.drop_table("sandbox_jobs")
