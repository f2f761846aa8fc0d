"""The sandbox's code jobs run in the background worker: a job is queued with its time and memory
limits, claimed by one worker (``started_at``) and ends ``finished`` (formerly ``done``),
``refused``, ``failed`` or ``cancelled`` (``finished_at``).

Revision ID: 0073
Revises: 0072
Create Date: 2026-12-07 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0073"
down_revision: str | None = "0072"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("sandbox_jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("seconds", sa.Integer(), nullable=False,
                                      server_default=sa.text("30")))  # fmt: skip
        batch_op.add_column(sa.Column("memory_mb", sa.Integer(), nullable=False,
                                      server_default=sa.text("1024")))  # fmt: skip
        batch_op.add_column(sa.Column("started_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f("ix_sandbox_jobs_status"), ["status"], unique=False)
    op.execute("UPDATE sandbox_jobs SET status = 'finished' WHERE status = 'done'")
    # a job left running by the synchronous runner of old has ended with its request
    op.execute("UPDATE sandbox_jobs SET status = 'failed', rule = 'job.lost' "
               "WHERE status = 'running'")  # fmt: skip


def downgrade() -> None:
    op.execute("UPDATE sandbox_jobs SET status = 'done' WHERE status = 'finished'")
    op.execute("UPDATE sandbox_jobs SET status = 'refused' WHERE status IN ('queued', 'cancelled')")
    with op.batch_alter_table("sandbox_jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sandbox_jobs_status"))
        batch_op.drop_column("finished_at")
        batch_op.drop_column("started_at")
        batch_op.drop_column("memory_mb")
        batch_op.drop_column("seconds")
