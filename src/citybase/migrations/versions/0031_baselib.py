"""Base libraries (一人一档, 一企一档): linkage runs, entities, links with their match weights,
golden fields with their sources, and the stewards' review queue.

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-06 03:07:47.061689
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import citybase.core.db.base

revision: str = "0031"
down_revision: str | None = "0030"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "baselib_runs",
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("started_at", citybase.core.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", citybase.core.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("run_by", sa.String(length=100), nullable=False),
        sa.Column(
            "resources",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("records", sa.Integer(), nullable=False),
        sa.Column("pairs", sa.Integer(), nullable=False),
        sa.Column("entities", sa.Integer(), nullable=False),
        sa.Column("reviews", sa.Integer(), nullable=False),
        sa.Column("conflicts", sa.Integer(), nullable=False),
        sa.Column("match_threshold", sa.Float(), nullable=False),
        sa.Column("review_threshold", sa.Float(), nullable=False),
        sa.Column(
            "model",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_baselib_runs")),
    )
    with op.batch_alter_table("baselib_runs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_baselib_runs_kind"), ["kind"], unique=False)

    op.create_table(
        "baselib_entities",
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("subject", sa.String(length=20), nullable=False),
        sa.Column("records", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("created_at", citybase.core.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", citybase.core.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["baselib_runs.id"], name=op.f("fk_baselib_entities_run_id_baselib_runs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_baselib_entities")),
    )
    with op.batch_alter_table("baselib_entities", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_baselib_entities_kind"), ["kind"], unique=False)
        batch_op.create_index(batch_op.f("ix_baselib_entities_subject"), ["subject"], unique=False)

    op.create_table(
        "baselib_reviews",
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("left_uid", sa.String(length=60), nullable=False),
        sa.Column("right_uid", sa.String(length=60), nullable=False),
        sa.Column("probability", sa.Float(), nullable=False),
        sa.Column("weight", sa.Float(), nullable=False),
        sa.Column(
            "weights",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "levels",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("decided_by", sa.String(length=100), nullable=False),
        sa.Column("decided_at", citybase.core.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("run_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("created_at", citybase.core.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", citybase.core.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["baselib_runs.id"], name=op.f("fk_baselib_reviews_run_id_baselib_runs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_baselib_reviews")),
        sa.UniqueConstraint(
            "kind", "left_uid", "right_uid", name=op.f("uq_baselib_reviews_kind_left_uid_right_uid")
        ),
    )
    with op.batch_alter_table("baselib_reviews", schema=None) as batch_op:
        batch_op.create_index("ix_baselib_reviews_kind_status", ["kind", "status"], unique=False)

    op.create_table(
        "baselib_golden_fields",
        sa.Column(
            "entity_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("field", sa.String(length=40), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("resource_code", sa.String(length=40), nullable=False),
        sa.Column("item", sa.String(length=100), nullable=False),
        sa.Column("row_no", sa.Integer(), nullable=False),
        sa.Column("unit_code", sa.String(length=40), nullable=False),
        sa.Column("observed_at", citybase.core.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("authoritative", sa.Boolean(), nullable=False),
        sa.Column(
            "sources",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "alternatives",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("dispute_number", sa.String(length=20), nullable=False),
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["entity_id"],
            ["baselib_entities.id"],
            name=op.f("fk_baselib_golden_fields_entity_id_baselib_entities"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_baselib_golden_fields")),
        sa.UniqueConstraint(
            "entity_id", "field", name=op.f("uq_baselib_golden_fields_entity_id_field")
        ),
    )
    op.create_table(
        "baselib_links",
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("record_uid", sa.String(length=60), nullable=False),
        sa.Column("resource_code", sa.String(length=40), nullable=False),
        sa.Column("row_no", sa.Integer(), nullable=False),
        sa.Column("unit_code", sa.String(length=40), nullable=False),
        sa.Column(
            "entity_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("partner_uid", sa.String(length=60), nullable=False),
        sa.Column("probability", sa.Float(), nullable=True),
        sa.Column(
            "weights",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "levels",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("run_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["entity_id"],
            ["baselib_entities.id"],
            name=op.f("fk_baselib_links_entity_id_baselib_entities"),
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["baselib_runs.id"], name=op.f("fk_baselib_links_run_id_baselib_runs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_baselib_links")),
        sa.UniqueConstraint("kind", "record_uid", name=op.f("uq_baselib_links_kind_record_uid")),
    )
    with op.batch_alter_table("baselib_links", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_baselib_links_entity_id"), ["entity_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_baselib_links_resource_code"), ["resource_code"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("baselib_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_baselib_links_resource_code"))
        batch_op.drop_index(batch_op.f("ix_baselib_links_entity_id"))

    op.drop_table("baselib_links")
    op.drop_table("baselib_golden_fields")
    with op.batch_alter_table("baselib_reviews", schema=None) as batch_op:
        batch_op.drop_index("ix_baselib_reviews_kind_status")

    op.drop_table("baselib_reviews")
    with op.batch_alter_table("baselib_entities", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_baselib_entities_subject"))
        batch_op.drop_index(batch_op.f("ix_baselib_entities_kind"))

    op.drop_table("baselib_entities")
    with op.batch_alter_table("baselib_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_baselib_runs_kind"))

    op.drop_table("baselib_runs")
