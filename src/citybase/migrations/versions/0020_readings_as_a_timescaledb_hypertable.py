"""readings as a TimescaleDB hypertable, where the extension is installed

On PostgreSQL with the TimescaleDB extension available, the readings table becomes a hypertable
chunked by day (its time is milliseconds since the epoch). Elsewhere — SQLite, or PostgreSQL
without the extension — nothing changes: the plain table keyed by series and time serves.

Revision ID: 0020
Revises: 0019
Create Date: 2026-11-30 02:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DAY_MS = 86_400_000


def timescale_available(bind: sa.engine.Connection) -> bool:
    if bind.dialect.name != "postgresql":
        return False
    found = bind.execute(sa.text(
        "SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'")).first()  # fmt: skip
    return found is not None


def upgrade() -> None:
    bind = op.get_bind()
    if not timescale_available(bind):
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
    op.execute(
        f"SELECT create_hypertable('perception_readings', 'ts', chunk_time_interval => {DAY_MS}, "
        "if_not_exists => TRUE, migrate_data => TRUE)"
    )


def downgrade() -> None:
    # a hypertable stays one: turning it back into a plain table means copying its rows out
    pass
