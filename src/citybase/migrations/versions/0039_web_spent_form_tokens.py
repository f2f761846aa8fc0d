"""Spent form tokens: a form that makes something, sent twice, makes it once.

Revision ID: 0039
Revises: 0038
Create Date: 2026-12-06 06:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import citybase.core.db.base

revision: str = "0039"
down_revision: str | None = "0038"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "web_spent_form_tokens",
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("spent_at", citybase.core.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("result", sa.String(length=500), nullable=False),
        sa.PrimaryKeyConstraint("digest", name=op.f("pk_web_spent_form_tokens")),
    )
    op.create_index(
        op.f("ix_web_spent_form_tokens_spent_at"),
        "web_spent_form_tokens",
        ["spent_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_web_spent_form_tokens_spent_at"), table_name="web_spent_form_tokens")
    op.drop_table("web_spent_form_tokens")
