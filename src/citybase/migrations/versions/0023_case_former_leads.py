"""Cases remember the lead units they left (returned or reassigned), so that per-unit figures
count a return or a reassignment for the unit it happened to.

Revision ID: 0023
Revises: 0022
Create Date: 2026-11-30 07:30:57.783508
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # cases taken in before have no record of the units they left: empty
    with op.batch_alter_table("hub_cases", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "former_leads",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                nullable=False,
                server_default=sa.text("'[]'"),
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("hub_cases", schema=None) as batch_op:
        batch_op.drop_column("former_leads")
