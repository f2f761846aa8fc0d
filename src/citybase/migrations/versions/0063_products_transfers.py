"""Transfer processes of the Dataspace Protocol under data-product contracts.

Revision ID: 0063
Revises: 0061
Create Date: 2026-12-06 21:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import citybase.core.db.base

revision: str = "0063"
down_revision: str | None = "0061"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "products_transfers",
        sa.Column("provider_pid", sa.String(length=80), nullable=False),
        sa.Column("consumer_pid", sa.String(length=200), nullable=False),
        sa.Column(
            "contract_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("customer_unit_code", sa.String(length=40), nullable=False),
        sa.Column("provider_unit_code", sa.String(length=40), nullable=False),
        sa.Column("requested_by", sa.String(length=100), nullable=False),
        sa.Column("format", sa.String(length=80), nullable=False),
        sa.Column("mode", sa.String(length=10), nullable=False),
        sa.Column("endpoint", sa.String(length=500), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("callback_address", sa.String(length=500), nullable=False),
        sa.Column("api_key_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "history",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("created_at", citybase.core.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", citybase.core.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["contract_id"],
            ["products_contracts.id"],
            name=op.f("fk_products_transfers_contract_id_products_contracts"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_products_transfers")),
        sa.UniqueConstraint("provider_pid", name=op.f("uq_products_transfers_provider_pid")),
    )
    with op.batch_alter_table("products_transfers", schema=None) as batch_op:
        for column in (
            "contract_id",
            "customer_unit_code",
            "provider_unit_code",
            "state",
            "api_key_id",
        ):
            batch_op.create_index(
                batch_op.f(f"ix_products_transfers_{column}"), [column], unique=False
            )


def downgrade() -> None:
    op.drop_table("products_transfers")
