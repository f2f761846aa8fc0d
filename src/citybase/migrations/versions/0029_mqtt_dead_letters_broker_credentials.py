"""Messages from devices that could not be stored, kept with the reason (dead letters); and each
device's credential as the MQTT broker's password file keeps it (PBKDF2-SHA512).

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-05 23:55:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import citybase.core.db.base

revision: str = "0029"
down_revision: str | None = "0028"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "perception_dead_letters",
        sa.Column("topic", sa.String(length=300), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("payload_size", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("device_id", sa.String(length=100), nullable=True),
        sa.Column("received_at", citybase.core.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_perception_dead_letters")),
    )
    with op.batch_alter_table("perception_dead_letters", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_perception_dead_letters_device_id"), ["device_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_perception_dead_letters_kind"), ["kind"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_perception_dead_letters_received_at"), ["received_at"], unique=False
        )
    with op.batch_alter_table("perception_devices", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("broker_hash", sa.String(length=200), nullable=False, server_default="")
        )


def downgrade() -> None:
    with op.batch_alter_table("perception_devices", schema=None) as batch_op:
        batch_op.drop_column("broker_hash")
    with op.batch_alter_table("perception_dead_letters", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_perception_dead_letters_received_at"))
        batch_op.drop_index(batch_op.f("ix_perception_dead_letters_kind"))
        batch_op.drop_index(batch_op.f("ix_perception_dead_letters_device_id"))
    op.drop_table("perception_dead_letters")
