"""NGSI-LD history kept per dataset: an attribute's series is one per datasetId ("" for the
default instance), so that instances of several datasets observed at the same time are all kept.

Revision ID: 0038
Revises: 0037
Create Date: 2026-12-06 06:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0038"
down_revision: str | None = "0037"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("perception_attribute_series", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("dataset_id", sa.String(length=256), server_default="", nullable=False)
        )
        batch_op.drop_constraint("uq_perception_attribute_series_entity_id_attr", type_="unique")
        batch_op.create_unique_constraint(
            batch_op.f("uq_perception_attribute_series_entity_id_attr_dataset_id"),
            ["entity_id", "attr", "dataset_id"],
        )


def downgrade() -> None:
    # the instances of datasets other than the default go: the old key holds one series only
    op.execute(
        "DELETE FROM perception_attribute_instances WHERE series_id IN "
        "(SELECT id FROM perception_attribute_series WHERE dataset_id <> '')"
    )
    op.execute("DELETE FROM perception_attribute_series WHERE dataset_id <> ''")
    with op.batch_alter_table("perception_attribute_series", schema=None) as batch_op:
        batch_op.drop_constraint(
            "uq_perception_attribute_series_entity_id_attr_dataset_id", type_="unique"
        )
        batch_op.create_unique_constraint(
            batch_op.f("uq_perception_attribute_series_entity_id_attr"), ["entity_id", "attr"]
        )
        batch_op.drop_column("dataset_id")
