"""Alembic environment: runs against the engine handed over by ``core.db.migrate``."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from citybase.migrations import all_metadata, include_name, include_object

config = context.config
target_metadata = all_metadata()


def run_migrations_online() -> None:
    engine = config.attributes.get("engine")
    if engine is None:
        engine = create_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
            include_name=include_name,
            include_object=include_object,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run_migrations_online()
