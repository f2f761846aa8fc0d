"""Incremental linking of the base libraries: links keep their rows' content hash, values and
prepared form; the records' blocking keys are indexed; runs say whether they were incremental.

Revision ID: 0045
Revises: 0047
Create Date: 2026-12-06 09:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0045"
down_revision: str | None = "0047"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json() -> sa.types.TypeEngine:  # type: ignore[type-arg]
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "baselib_record_keys",
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("key", sa.String(length=120), nullable=False),
        sa.Column("record_uid", sa.String(length=60), nullable=False),
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_baselib_record_keys")),
    )
    with op.batch_alter_table("baselib_record_keys", schema=None) as batch_op:
        batch_op.create_index("ix_baselib_record_keys_kind_key", ["kind", "key"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_baselib_record_keys_record_uid"), ["record_uid"], unique=False
        )
    with op.batch_alter_table("baselib_links", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("fingerprint", sa.String(length=40), nullable=False, server_default="")
        )
        batch_op.add_column(sa.Column("raw", _json(), nullable=False, server_default="{}"))
        batch_op.add_column(sa.Column("prepared", _json(), nullable=False, server_default="{}"))
    with op.batch_alter_table("baselib_runs", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("incremental", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("baselib_runs", schema=None) as batch_op:
        batch_op.drop_column("incremental")
    with op.batch_alter_table("baselib_links", schema=None) as batch_op:
        batch_op.drop_column("prepared")
        batch_op.drop_column("raw")
        batch_op.drop_column("fingerprint")
    with op.batch_alter_table("baselib_record_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_baselib_record_keys_record_uid"))
        batch_op.drop_index("ix_baselib_record_keys_kind_key")
    op.drop_table("baselib_record_keys")
