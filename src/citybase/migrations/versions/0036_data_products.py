"""Data products: operation agreements (授权运营), products, scenarios, data assets.

Revision ID: 0036
Revises: 0035
Create Date: 2026-12-06 06:06:58.390981
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import citybase.core.db.base

revision: str = "0036"
down_revision: str | None = "0035"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "products_agreements",
        sa.Column("number", sa.String(length=30), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("operator_unit_code", sa.String(length=40), nullable=False),
        sa.Column("operator_credit_code", sa.String(length=18), nullable=False),
        sa.Column(
            "resource_codes",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "themes",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "purposes",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "scenarios",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("security_duties", sa.Text(), nullable=False),
        sa.Column("price_policy", sa.String(length=20), nullable=False),
        sa.Column("price_note", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("granted_by", sa.String(length=100), nullable=False),
        sa.Column("reviewed_by", sa.String(length=100), nullable=False),
        sa.Column("signed_by", sa.String(length=100), nullable=False),
        sa.Column("signed_at", citybase.core.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ended_at", citybase.core.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_reason", sa.Text(), nullable=False),
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("created_at", citybase.core.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", citybase.core.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_products_agreements")),
        sa.UniqueConstraint("number", name=op.f("uq_products_agreements_number")),
    )
    with op.batch_alter_table("products_agreements", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_products_agreements_operator_unit_code"),
            ["operator_unit_code"],
            unique=False,
        )
        batch_op.create_index(batch_op.f("ix_products_agreements_status"), ["status"], unique=False)

    op.create_table(
        "products_assets",
        sa.Column("number", sa.String(length=30), nullable=False),
        sa.Column("unit_code", sa.String(length=40), nullable=False),
        sa.Column("subject_kind", sa.String(length=10), nullable=False),
        sa.Column("subject_code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("cost_fen", sa.BigInteger(), nullable=False),
        sa.Column("expected_benefit_fen", sa.BigInteger(), nullable=False),
        sa.Column("method", sa.String(length=10), nullable=False),
        sa.Column("value_fen", sa.BigInteger(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("created_at", citybase.core.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", citybase.core.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_products_assets")),
        sa.UniqueConstraint("number", name=op.f("uq_products_assets_number")),
    )
    with op.batch_alter_table("products_assets", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_products_assets_unit_code"), ["unit_code"], unique=False
        )

    op.create_table(
        "products_scenarios",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("sector", sa.String(length=40), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("owner_unit_code", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("created_at", citybase.core.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", citybase.core.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_products_scenarios")),
        sa.UniqueConstraint("name", name=op.f("uq_products_scenarios_name")),
    )
    with op.batch_alter_table("products_scenarios", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_products_scenarios_sector"), ["sector"], unique=False)

    op.create_table(
        "products_asset_entries",
        sa.Column("asset_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("cost_fen", sa.BigInteger(), nullable=False),
        sa.Column("expected_benefit_fen", sa.BigInteger(), nullable=False),
        sa.Column("method", sa.String(length=10), nullable=False),
        sa.Column("value_fen", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("changed_by", sa.String(length=100), nullable=False),
        sa.Column("changed_at", citybase.core.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["asset_id"],
            ["products_assets.id"],
            name=op.f("fk_products_asset_entries_asset_id_products_assets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_products_asset_entries")),
    )
    with op.batch_alter_table("products_asset_entries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_products_asset_entries_asset_id"), ["asset_id"], unique=False
        )

    op.create_table(
        "products_products",
        sa.Column("number", sa.String(length=30), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("owner_unit_code", sa.String(length=40), nullable=False),
        sa.Column(
            "agreement_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("sector", sa.String(length=40), nullable=False),
        sa.Column(
            "source_codes",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("update_cycle", sa.String(length=20), nullable=False),
        sa.Column("sample", sa.Text(), nullable=False),
        sa.Column(
            "sample_rows",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "quality",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("grade", sa.String(length=20), nullable=False),
        sa.Column("personal_data", sa.Boolean(), nullable=False),
        sa.Column("masked", sa.Boolean(), nullable=False),
        sa.Column("price_model", sa.String(length=12), nullable=False),
        sa.Column("price_fen", sa.BigInteger(), nullable=False),
        sa.Column("licence", sa.String(length=200), nullable=False),
        sa.Column(
            "offer_policy",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "checks",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("registered_by", sa.String(length=100), nullable=False),
        sa.Column("reviewed_by", sa.String(length=100), nullable=False),
        sa.Column("review_reason", sa.Text(), nullable=False),
        sa.Column("listed_at", citybase.core.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("delisted_at", citybase.core.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("search_tokens", sa.Text(), nullable=False),
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("created_at", citybase.core.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", citybase.core.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agreement_id"],
            ["products_agreements.id"],
            name=op.f("fk_products_products_agreement_id_products_agreements"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_products_products")),
        sa.UniqueConstraint("number", name=op.f("uq_products_products_number")),
    )
    with op.batch_alter_table("products_products", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_products_products_agreement_id"), ["agreement_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_products_products_owner_unit_code"), ["owner_unit_code"], unique=False
        )
        batch_op.create_index("ix_products_products_status_kind", ["status", "kind"], unique=False)

    op.create_table(
        "products_product_scenarios",
        sa.Column(
            "product_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "scenario_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products_products.id"],
            name=op.f("fk_products_product_scenarios_product_id_products_products"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["scenario_id"],
            ["products_scenarios.id"],
            name=op.f("fk_products_product_scenarios_scenario_id_products_scenarios"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "product_id", "scenario_id", name=op.f("pk_products_product_scenarios")
        ),
    )
    with op.batch_alter_table("products_product_scenarios", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_products_product_scenarios_scenario_id"), ["scenario_id"], unique=False
        )


def downgrade() -> None:

    with op.batch_alter_table("products_product_scenarios", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_products_product_scenarios_scenario_id"))

    op.drop_table("products_product_scenarios")
    with op.batch_alter_table("products_products", schema=None) as batch_op:
        batch_op.drop_index("ix_products_products_status_kind")
        batch_op.drop_index(batch_op.f("ix_products_products_owner_unit_code"))
        batch_op.drop_index(batch_op.f("ix_products_products_agreement_id"))

    op.drop_table("products_products")
    with op.batch_alter_table("products_asset_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_products_asset_entries_asset_id"))

    op.drop_table("products_asset_entries")
    with op.batch_alter_table("products_scenarios", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_products_scenarios_sector"))

    op.drop_table("products_scenarios")
    with op.batch_alter_table("products_assets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_products_assets_unit_code"))

    op.drop_table("products_assets")
    with op.batch_alter_table("products_agreements", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_products_agreements_status"))
        batch_op.drop_index(batch_op.f("ix_products_agreements_operator_unit_code"))

    op.drop_table("products_agreements")
