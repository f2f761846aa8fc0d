"""Data-product deliveries indexed by their moment alone, for the bureau's revenue report
over every provider (the customer's and provider's indexes lead with the unit).

Revision ID: 0061
Revises: 0062
Create Date: 2026-12-06 20:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0061"
down_revision: str | None = "0062"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_products_deliveries_at", "products_deliveries", ["at"])


def downgrade() -> None:
    op.drop_index("ix_products_deliveries_at", table_name="products_deliveries")
