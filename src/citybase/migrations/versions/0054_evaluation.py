"""Evaluation of service (好差评): rated subjects and ratings with their rectification.

Revision ID: 0054
Revises: 0055
Create Date: 2026-12-06 13:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import citybase.core.db.base

revision: str = "0054"
down_revision: str | None = "0055"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = citybase.core.db.base.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "evaluation_subjects",
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("subject_id", sa.String(length=80), nullable=False),
        sa.Column("unit_code", sa.String(length=40), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("applicant_key", sa.String(length=80), nullable=False),
        sa.Column("handled_at", UTC, nullable=True),
        sa.Column("id", citybase.core.db.base.BigIntPK, autoincrement=True, nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evaluation_subjects")),
        sa.UniqueConstraint(
            "kind", "subject_id", name=op.f("uq_evaluation_subjects_kind_subject_id")
        ),
    )
    with op.batch_alter_table("evaluation_subjects", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_evaluation_subjects_unit_code"), ["unit_code"], unique=False
        )
    op.create_table(
        "evaluation_ratings",
        sa.Column("subject_pk", citybase.core.db.base.BigIntPK, nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("subject_id", sa.String(length=80), nullable=False),
        sa.Column("unit_code", sa.String(length=40), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("grade", sa.String(length=20), nullable=False),
        sa.Column("reasons", citybase.core.db.base.JSONType, nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("rated_at", UTC, nullable=False),
        sa.Column("rectify_state", sa.String(length=12), nullable=False),
        sa.Column("rectify_due", UTC, nullable=True),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("answered_at", UTC, nullable=True),
        sa.Column("answered_by", sa.String(length=100), nullable=False),
        sa.Column("warned_at", UTC, nullable=True),
        sa.Column("revisit_note", sa.Text(), nullable=False),
        sa.Column("revisited_at", UTC, nullable=True),
        sa.Column("revisited_by", sa.String(length=100), nullable=False),
        sa.Column("id", citybase.core.db.base.BigIntPK, autoincrement=True, nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["subject_pk"],
            ["evaluation_subjects.id"],
            name=op.f("fk_evaluation_ratings_subject_pk_evaluation_subjects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evaluation_ratings")),
        sa.UniqueConstraint("subject_pk", name=op.f("uq_evaluation_ratings_subject_pk")),
    )
    with op.batch_alter_table("evaluation_ratings", schema=None) as batch_op:
        batch_op.create_index(
            "ix_evaluation_ratings_rectify", ["rectify_state", "rectify_due"], unique=False
        )
        batch_op.create_index(
            "ix_evaluation_ratings_unit_rated", ["unit_code", "rated_at"], unique=False
        )


def downgrade() -> None:
    op.drop_table("evaluation_ratings")
    op.drop_table("evaluation_subjects")
