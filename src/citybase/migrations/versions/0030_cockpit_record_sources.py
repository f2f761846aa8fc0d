"""Plan records keep where they come from: an indicator's and a task's source (the file, the
section and the sentence as published), an indicator's own wording of a figure that is not a
plain number (超过1000个), and a task's responsible parties named only collectively.

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-06 00:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0030"
down_revision: str | None = "0029"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json() -> sa.JSON:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    # records loaded before carry no source and no wording: none and empty
    with op.batch_alter_table("cockpit_indicators", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("wording", _json(), nullable=False, server_default=sa.text("'{}'"))
        )
        batch_op.add_column(sa.Column("source", _json(), nullable=True))
    with op.batch_alter_table("cockpit_tasks", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("other_units", _json(), nullable=False, server_default=sa.text("'[]'"))
        )
        batch_op.add_column(sa.Column("source", _json(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("cockpit_tasks", schema=None) as batch_op:
        batch_op.drop_column("source")
        batch_op.drop_column("other_units")
    with op.batch_alter_table("cockpit_indicators", schema=None) as batch_op:
        batch_op.drop_column("source")
        batch_op.drop_column("wording")
