"""Dependencies shared by every route: the database session that owns the request's transaction."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from citybase.core.db.engine import REQUEST_TX, Database
from citybase.core.settings import Settings

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def get_database(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


_TRACED = "citybase_traced_read"
F = TypeVar("F", bound=Callable[..., Any])


def traced_read(endpoint: F) -> F:
    """Mark a GET route whose every call writes (a read of shared data puts itself on the
    ledger): its request gets a writing transaction instead of a read-only one."""
    setattr(endpoint, _TRACED, True)
    return endpoint


def get_session(request: Request) -> Iterator[Session]:
    """The request's one transaction: committed when the route returns, before the response is
    sent; rolled back if it raises. Reads (GET, HEAD) run in a read-only transaction, except on
    routes marked ``traced_read``."""
    readonly = request.method in SAFE_METHODS and not getattr(
        request.scope.get("endpoint"), _TRACED, False
    )
    override = getattr(request.app.state, "session_override", None)
    if override is not None:
        # tests: the request is a savepoint inside the test's transaction
        nested = override.begin_nested()
        override.info[REQUEST_TX] = nested
        try:
            yield override
        except BaseException:
            if override.info.get(REQUEST_TX) is not None and override.info[REQUEST_TX].is_active:
                override.info[REQUEST_TX].rollback()
            raise
        else:
            if override.info[REQUEST_TX].is_active:
                override.info[REQUEST_TX].commit()
        finally:
            override.info.pop(REQUEST_TX, None)
        return
    db = get_database(request)
    with db.session_scope(readonly=readonly) as session:
        yield session


DbSession = Annotated[Session, Depends(get_session, scope="function")]
AppSettings = Annotated[Settings, Depends(get_settings)]
