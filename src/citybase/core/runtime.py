"""Open a platform from settings: data directory, database, migrations. Used by every command.

Settings, SQLAlchemy and Alembic are imported when a command runs, not when the ``citybase``
command starts: ``citybase --help`` only builds the commands' options.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from citybase.core.db.engine import Database
    from citybase.core.settings import Settings

DataDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        envvar="CITYBASE_HOME",
        help="The data directory (default: $CITYBASE_HOME, else ~/.citybase).",
    ),
]


class NotInitialised(Exception):
    pass


def load_settings(data_dir: Path | None = None) -> Settings:
    from citybase.core.settings import Settings

    return Settings(home=data_dir) if data_dir is not None else Settings()


def open_database(settings: Settings, *, upgrade: bool = True) -> Database:
    """The platform's database, migrated to the newest schema.

    In production, schema changes are a deliberate step (``citybase init``): a process that
    finds the schema behind refuses to start instead of migrating on its own.
    """
    from citybase.core.db import migrate
    from citybase.core.db.engine import Database
    from citybase.core.settings import Mode

    settings.home.mkdir(parents=True, exist_ok=True)
    db = Database(settings.resolved_database_url)
    # a schema already at the head is not upgraded again: that would load every model through
    # the migration environment (most of a command's start-up) to do nothing
    if upgrade and not migrate.is_up_to_date(db.engine):
        if settings.mode is Mode.production:
            raise NotInitialised("the database schema is not up to date: run `citybase init` first")
        migrate.upgrade(db.engine)
    return db
