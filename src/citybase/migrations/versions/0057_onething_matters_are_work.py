"""One-thing matters' hub cases are work handed over (source work), not 12345 requests.

The cases opened for one-thing matters before the source ``work`` existed were taken in as
``portal``; they are marked here. The centre's kept counts still hold them until they are
counted again: ``citybase hub rebuild-figures``.

Revision ID: 0057
Revises: 0051
Create Date: 2026-12-06 16:30:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0057"
down_revision: str | None = "0051"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        "UPDATE hub_cases SET source = 'work' WHERE source <> 'work' AND number IN "
        "(SELECT case_number FROM onething_application_matters WHERE case_number <> '')"
    )


def downgrade() -> None:
    op.execute("UPDATE hub_cases SET source = 'portal' WHERE source = 'work'")
