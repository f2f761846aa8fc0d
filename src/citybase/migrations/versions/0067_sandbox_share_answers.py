"""The sandbox where it is used: a share request answered by a sandbox grant (the grant on the
request, the request on the grant), and a declaration's privacy unit (the base library's person
id where rows are linked, or the identifier column).

Revision ID: 0067
Revises: 0071
Create Date: 2026-12-06 23:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0067"
down_revision: str | None = "0071"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("share_requests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sandbox_grant_id", sa.Integer(), nullable=True))
    with op.batch_alter_table("sandbox_grants", schema=None) as batch_op:
        batch_op.add_column(sa.Column("share_request", sa.String(length=20), nullable=False,
                                      server_default=""))  # fmt: skip
    with op.batch_alter_table("sandbox_declarations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("privacy_unit", sa.String(length=10), nullable=False,
                                      server_default="person"))  # fmt: skip


def downgrade() -> None:
    with op.batch_alter_table("sandbox_declarations", schema=None) as batch_op:
        batch_op.drop_column("privacy_unit")
    with op.batch_alter_table("sandbox_grants", schema=None) as batch_op:
        batch_op.drop_column("share_request")
    with op.batch_alter_table("share_requests", schema=None) as batch_op:
        batch_op.drop_column("sandbox_grant_id")
