"""The sandbox's δ-approximate DP: a grant's δ per period, the δ spent in each period's budget
row, and the δ each query asked, all in 10^-12 (integers, so that budgets add up exactly).

Revision ID: 0068
Revises: 0066
Create Date: 2026-12-06 23:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0068"
down_revision: str | None = "0066"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    zero = sa.text("0")
    with op.batch_alter_table("sandbox_grants", schema=None) as batch_op:
        batch_op.add_column(sa.Column("delta_pico", sa.BigInteger(), nullable=False,
                                      server_default=zero))  # fmt: skip
    with op.batch_alter_table("sandbox_budgets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("budget_delta_pico", sa.BigInteger(), nullable=False,
                                      server_default=zero))  # fmt: skip
        batch_op.add_column(sa.Column("spent_delta_pico", sa.BigInteger(), nullable=False,
                                      server_default=zero))  # fmt: skip
    with op.batch_alter_table("sandbox_queries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("delta_pico", sa.BigInteger(), nullable=False,
                                      server_default=zero))  # fmt: skip


def downgrade() -> None:
    with op.batch_alter_table("sandbox_queries", schema=None) as batch_op:
        batch_op.drop_column("delta_pico")
    with op.batch_alter_table("sandbox_budgets", schema=None) as batch_op:
        batch_op.drop_column("spent_delta_pico")
        batch_op.drop_column("budget_delta_pico")
    with op.batch_alter_table("sandbox_grants", schema=None) as batch_op:
        batch_op.drop_column("delta_pico")
