"""NGSI-LD entities of several types: each type filed in perception_entity_types (the one type
every entity had copied in), the full list kept on the entity, and on its history's series,
when there are several.

Revision ID: 0066
Revises: 0065
Create Date: 2026-12-06 20:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import citybase.core.db.base

revision: str = "0066"
down_revision: str | None = "0065"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "perception_entity_types",
        sa.Column("entity_id", sa.String(length=256), nullable=False),
        sa.Column("type", sa.String(length=512), nullable=False),
        sa.ForeignKeyConstraint(["entity_id"], ["perception_entities.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("entity_id", "type"),
    )
    op.create_index("ix_perception_entity_types_type_entity", "perception_entity_types",
                    ["type", "entity_id"], unique=False)  # fmt: skip
    with op.batch_alter_table("perception_entities", schema=None) as batch_op:
        batch_op.add_column(sa.Column("types", citybase.core.db.base.JSONType, nullable=True))
    with op.batch_alter_table("perception_attribute_series", schema=None) as batch_op:
        batch_op.add_column(sa.Column("entity_types", citybase.core.db.base.JSONType,
                                      nullable=True))  # fmt: skip
    op.execute("INSERT INTO perception_entity_types (entity_id, type) "
               "SELECT id, type FROM perception_entities")  # fmt: skip


def downgrade() -> None:
    with op.batch_alter_table("perception_attribute_series", schema=None) as batch_op:
        batch_op.drop_column("entity_types")
    with op.batch_alter_table("perception_entities", schema=None) as batch_op:
        batch_op.drop_column("types")
    op.drop_index("ix_perception_entity_types_type_entity", table_name="perception_entity_types")
    op.drop_table("perception_entity_types")
