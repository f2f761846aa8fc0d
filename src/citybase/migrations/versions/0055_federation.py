"""District brains as their own deployments: the federation's peers, messages and case links.

Revision ID: 0055
Revises: 0052
Create Date: 2026-12-06 12:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import citybase.core.db.base

revision: str = "0055"
down_revision: str | None = "0052"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _time(name: str, nullable: bool = True) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, citybase.core.db.base.UTCDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "hub_federation_peers",
        sa.Column("code", sa.String(length=20), nullable=False),
        sa.Column("role", sa.String(length=10), nullable=False),
        sa.Column("district_code", sa.String(length=20), nullable=False),
        sa.Column("connected", sa.Boolean(), nullable=False),
        _time("checked_at"),
        sa.Column("last_error", sa.String(length=400), nullable=False),
        sa.Column("waiting_in", sa.Integer(), nullable=False),
        _time("last_sent_at"),
        sa.Column("last_sent_subject", sa.String(length=200), nullable=False),
        _time("last_received_at"),
        sa.Column("last_received_subject", sa.String(length=200), nullable=False),
        _time("last_received_created_at"),
        sa.Column("figures", JSON, nullable=False),
        _time("figures_at"),
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hub_federation_peers")),
        sa.UniqueConstraint("code", name=op.f("uq_hub_federation_peers_code")),
    )
    op.create_table(
        "hub_federation_messages",
        sa.Column("message_id", sa.String(length=36), nullable=False),
        sa.Column("direction", sa.String(length=3), nullable=False),
        sa.Column("peer_code", sa.String(length=20), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("case_number", sa.String(length=32), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("payload", JSON, nullable=False),
        _time("created_at", nullable=False),
        _time("sent_at"),
        _time("received_at"),
        sa.Column("outcome", sa.String(length=400), nullable=False),
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hub_federation_messages")),
        sa.UniqueConstraint(
            "direction", "message_id", name=op.f("uq_hub_federation_messages_direction_message_id")
        ),
    )
    with op.batch_alter_table("hub_federation_messages", schema=None) as batch_op:
        batch_op.create_index(
            "ix_hub_federation_messages_unsent", ["direction", "sent_at", "id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_hub_federation_messages_case_number"), ["case_number"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_hub_federation_messages_peer_code"), ["peer_code"], unique=False
        )
    op.create_table(
        "hub_federation_links",
        sa.Column("peer_code", sa.String(length=20), nullable=False),
        sa.Column("case_number", sa.String(length=32), nullable=False),
        sa.Column("peer_number", sa.String(length=32), nullable=False),
        sa.Column("sent_seq", sa.Integer(), nullable=False),
        sa.Column("received_seq", sa.Integer(), nullable=False),
        sa.Column("peer_state", sa.String(length=20), nullable=False),
        sa.Column("peer_action", sa.String(length=20), nullable=False),
        _time("peer_changed_at"),
        _time("created_at", nullable=False),
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hub_federation_links")),
        sa.UniqueConstraint(
            "peer_code", "case_number", name=op.f("uq_hub_federation_links_peer_code_case_number")
        ),
    )
    with op.batch_alter_table("hub_federation_links", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_hub_federation_links_case_number"), ["case_number"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_hub_federation_links_peer_number"), ["peer_number"], unique=False
        )


def downgrade() -> None:
    op.drop_table("hub_federation_links")
    op.drop_table("hub_federation_messages")
    op.drop_table("hub_federation_peers")
