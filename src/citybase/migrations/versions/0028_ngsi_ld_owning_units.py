"""Every NGSI-LD entity, attribute history and subscription has an owning unit.

Existing rows are given one: a registered device's entity (and its history) belongs to the
device's unit; a subscription to the unit of the user who made it; any other entity to the
platform ("", changed by platform administrators only, who may hand it to a unit).

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-06 00:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0028"
down_revision: str | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DEVICE = "urn:ngsi-ld:Device:"


def upgrade() -> None:
    for table in ("perception_entities", "perception_subscriptions",
                  "perception_attribute_series"):  # fmt: skip
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("unit", sa.String(length=64), nullable=False,
                                       server_default=""))  # fmt: skip
    op.create_index("ix_perception_subscriptions_unit", "perception_subscriptions", ["unit"])
    prefix = len(DEVICE) + 1
    for table, key in (("perception_entities", "id"), ("perception_attribute_series", "entity_id")):
        statement = (  # the table names are this migration's own
            f"UPDATE {table} SET unit = COALESCE((SELECT d.owner_unit FROM perception_devices d "  # noqa: S608
            f"WHERE d.device_id = substr({table}.{key}, {prefix})), '') "
            f"WHERE {key} LIKE '{DEVICE}%'"
        )
        op.execute(sa.text(statement))
    op.execute(sa.text(
        "UPDATE perception_subscriptions SET unit = COALESCE((SELECT n.code FROM users u "
        "JOIN units n ON n.id = u.unit_id WHERE u.username = perception_subscriptions.owner), '')"
    ))  # fmt: skip


def downgrade() -> None:
    op.drop_index("ix_perception_subscriptions_unit", "perception_subscriptions")
    for table in ("perception_entities", "perception_subscriptions",
                  "perception_attribute_series"):  # fmt: skip
        op.drop_column(table, "unit")  # in place (SQLite 3.35+): no table rebuilt, no cascade
