"""An anomaly rule's detector keeps what it has learnt of each device's series in the rule's
state, so that it survives a restart instead of warming up again.

Revision ID: 0034
Revises: 0031
Create Date: 2026-12-06 03:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0034"
down_revision: str | None = "0031"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json() -> sa.JSON:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("perception_rule_states", schema=None) as batch_op:
        batch_op.add_column(sa.Column("detector", _json(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("perception_rule_states", schema=None) as batch_op:
        batch_op.drop_column("detector")
