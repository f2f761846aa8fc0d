"""Cases whose two sides disagree, kept on their link: hub_federation_links.apart_since,
apart_why and step_seq (this side's last step sent, which an answer must reach to count).

Revision ID: 0079
Revises: 0078
Create Date: 2026-12-10 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import citybase.core.db.base

revision: str = "0079"
down_revision: str | None = "0078"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("hub_federation_links") as batch:
        batch.add_column(sa.Column("apart_since", citybase.core.db.base.UTCDateTime(timezone=True)))
        batch.add_column(sa.Column("apart_why", sa.String(400), nullable=False, server_default=""))
        batch.add_column(sa.Column("step_seq", sa.Integer(), nullable=False, server_default="0"))
        batch.create_index("ix_hub_federation_links_apart_since", ["apart_since"])


def downgrade() -> None:
    with op.batch_alter_table("hub_federation_links") as batch:
        batch.drop_index("ix_hub_federation_links_apart_since")
        batch.drop_column("step_seq")
        batch.drop_column("apart_why")
        batch.drop_column("apart_since")
