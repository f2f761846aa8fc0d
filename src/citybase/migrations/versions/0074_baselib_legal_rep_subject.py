"""An enterprise file keeps the keyed hash of its legal representative's citizen ID, so that a
signed-in citizen finds the firms he represents (企业空间).

Revision ID: 0074
Revises: 0075
Create Date: 2026-12-08 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0074"
down_revision: str | None = "0075"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("baselib_entities", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("rep_subject", sa.String(length=20), nullable=False, server_default="")
        )
        batch_op.create_index(
            batch_op.f("ix_baselib_entities_rep_subject"), ["rep_subject"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("baselib_entities", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_baselib_entities_rep_subject"))
        batch_op.drop_column("rep_subject")
