"""Where entities are: each GeoProperty's bounding box filed under its Z-order tile, for
geo-queries through an index; filled from the entities already kept. And the entities of a type
indexed in id order (type, id), so that a query pages them without sorting them all.

Revision ID: 0027
Revises: 0026
Create Date: 2026-11-30 13:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from citybase.core.db.base import JSONType

revision: str = "0027"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "perception_entity_places",
        sa.Column("entity_id", sa.String(length=256), nullable=False),
        sa.Column("attr", sa.String(length=512), nullable=False),
        sa.Column("zlevel", sa.Integer(), nullable=False),
        sa.Column("zkey", sa.BigInteger(), nullable=False),
        sa.Column("west", sa.Float(), nullable=False),
        sa.Column("south", sa.Float(), nullable=False),
        sa.Column("east", sa.Float(), nullable=False),
        sa.Column("north", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["entity_id"],
            ["perception_entities.id"],
            ondelete="CASCADE",
            name=op.f("fk_perception_entity_places_entity_id_perception_entities"),
        ),
        sa.PrimaryKeyConstraint("entity_id", "attr", name=op.f("pk_perception_entity_places")),
    )
    with op.batch_alter_table("perception_entity_places", schema=None) as batch_op:
        batch_op.create_index(
            "ix_perception_entity_places_attr_zkey", ["attr", "zkey"], unique=False
        )
    _fill()
    with op.batch_alter_table("perception_entities", schema=None) as batch_op:
        batch_op.drop_index("ix_perception_entities_type")
        batch_op.create_index("ix_perception_entities_type_id", ["type", "id"], unique=False)


def _fill() -> None:
    from citybase.perception.context.places import row_for

    entities = sa.table("perception_entities", sa.column("id", sa.String),
                        sa.column("attrs", JSONType))  # fmt: skip
    places = sa.table("perception_entity_places", *(sa.column(c) for c in (
        "entity_id", "attr", "zlevel", "zkey", "west", "south", "east", "north")))  # fmt: skip
    connection = op.get_bind()
    last = ""
    while True:
        chunk = connection.execute(sa.select(entities.c.id, entities.c.attrs).where(
            entities.c.id > last).order_by(entities.c.id).limit(2000)).all()  # fmt: skip
        if not chunk:
            return
        rows = [row for entity_id, attrs in chunk for attr, held in (attrs or {}).items()
                if (row := row_for(entity_id, attr, held)) is not None]  # fmt: skip
        if rows:
            connection.execute(places.insert(), rows)
        last = chunk[-1][0]


def downgrade() -> None:
    with op.batch_alter_table("perception_entities", schema=None) as batch_op:
        batch_op.drop_index("ix_perception_entities_type_id")
        batch_op.create_index("ix_perception_entities_type", ["type"], unique=False)
    with op.batch_alter_table("perception_entity_places", schema=None) as batch_op:
        batch_op.drop_index("ix_perception_entity_places_attr_zkey")
    op.drop_table("perception_entity_places")
