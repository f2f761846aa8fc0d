"""the subject index of shared reads as one B-tree keyed by (subject, read), tags of 80 bits, and
the recent reads' subjects kept apart until the worker files them

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-29

A read that serves a thousand rows writes a thousand subject entries; the table had a row id,
a primary key on (read, subject) and an index on subject: three trees per entry. Now one,
keyed (subject, read), which the look-up by subject walks. Existing tags are cut to their first
20 hex digits, which is what ``subject_tag`` now keeps. A read now appends its subjects to
``share_access_subjects_recent``, keyed (read, subject); the worker files them into the index in
subject order.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ACCESS_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_COPY_SHORT = (
    "INSERT INTO share_access_subjects (subject, access_id) "
    "SELECT DISTINCT substr(subject, 1, 20), access_id FROM share_access_subjects_old"
)
_COPY_BACK = (
    "INSERT INTO share_access_subjects (access_id, subject) "
    "SELECT access_id, subject FROM share_access_subjects_old"
)


def _create(length: int, *, subject_first: bool) -> None:
    subject = sa.Column("subject", sa.String(length=length), nullable=False)
    access = sa.Column("access_id", _ACCESS_ID, autoincrement=False, nullable=False)
    op.create_table(
        "share_access_subjects",
        *((subject, access) if subject_first else (access, subject)),
        sa.ForeignKeyConstraint(
            ["access_id"],
            ["share_accesses.id"],
            name=op.f("fk_share_access_subjects_access_id_share_accesses"),
        ),
        sa.PrimaryKeyConstraint(
            *(("subject", "access_id") if subject_first else ("access_id", "subject")),
            name=op.f("pk_share_access_subjects"),
        ),
        sqlite_with_rowid=not subject_first,
    )


def upgrade() -> None:
    with op.batch_alter_table("share_access_subjects", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_share_access_subjects_subject"))
    op.rename_table("share_access_subjects", "share_access_subjects_old")
    _drop_old_constraint_names()
    _create(20, subject_first=True)
    op.execute(_COPY_SHORT)
    op.drop_table("share_access_subjects_old")
    op.create_table(
        "share_access_subjects_recent",
        sa.Column("access_id", _ACCESS_ID, autoincrement=False, nullable=False),
        sa.Column("subject", sa.String(length=20), nullable=False),
        sa.ForeignKeyConstraint(
            ["access_id"],
            ["share_accesses.id"],
            name=op.f("fk_share_access_subjects_recent_access_id_share_accesses"),
        ),
        sa.PrimaryKeyConstraint(
            "access_id", "subject", name=op.f("pk_share_access_subjects_recent")
        ),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    op.execute(
        "INSERT INTO share_access_subjects (subject, access_id) "
        "SELECT subject, access_id FROM share_access_subjects_recent"
    )
    op.drop_table("share_access_subjects_recent")
    op.rename_table("share_access_subjects", "share_access_subjects_old")
    _drop_old_constraint_names()
    _create(64, subject_first=False)
    op.execute(_COPY_BACK)
    op.drop_table("share_access_subjects_old")
    with op.batch_alter_table("share_access_subjects", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_share_access_subjects_subject"), ["subject"], unique=False
        )


def _drop_old_constraint_names() -> None:
    """PostgreSQL names constraints per schema: the renamed table's must make way."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "ALTER TABLE share_access_subjects_old "
            "DROP CONSTRAINT fk_share_access_subjects_access_id_share_accesses"
        )
        op.execute(
            "ALTER TABLE share_access_subjects_old "
            "RENAME CONSTRAINT pk_share_access_subjects TO pk_share_access_subjects_old"
        )
