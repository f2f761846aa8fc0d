"""Dependencies shared by every route: the database session that owns the request's transaction."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from citybase.core.db.engine import REQUEST_TX, Database, lift_read_only, read_only_savepoint
from citybase.core.settings import Settings

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def get_database(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


_TRACED = "citybase_traced_read"
_READS_ONLY = "citybase_reads_only"
F = TypeVar("F", bound=Callable[..., Any])


def traced_read(endpoint: F) -> F:
    """Mark a GET route whose every call writes (a read of shared data or personal data puts
    itself on the ledger and the access log): its request gets a writing transaction instead
    of a read-only one."""
    setattr(endpoint, _TRACED, True)
    return endpoint


def reads_only(endpoint: F) -> F:
    """Mark a POST route that only reads (CKAN's actions as ckanapi sends them, a search whose
    question is a body): its request runs in a read-only transaction, as a GET does, so that it
    never waits behind writers — and fails loudly if it tries to write."""
    setattr(endpoint, _READS_ONLY, True)
    return endpoint


def is_read_only(request: Request) -> bool:
    """Whether the request runs in a read-only transaction: a GET or HEAD (unless its route is
    a ``traced_read``), or a route marked ``reads_only`` whatever its method."""
    endpoint = request.scope.get("endpoint")
    if getattr(endpoint, _READS_ONLY, False):
        return True
    return request.method in SAFE_METHODS and not getattr(endpoint, _TRACED, False)


def get_session(request: Request) -> Iterator[Session]:
    """The request's one transaction: committed when the route returns, before the response is
    sent; rolled back if it raises. Reads run in a read-only transaction (``is_read_only``)."""
    readonly = is_read_only(request)
    override = getattr(request.app.state, "session_override", None)
    if override is not None:
        # tests: the request is a savepoint inside the test's transaction, read-only as the
        # request's own transaction would be (rolled back at the end, which lifts it)
        nested = override.begin_nested()
        override.info[REQUEST_TX] = nested
        if readonly:
            read_only_savepoint(override)
        try:
            yield override
        except BaseException:
            if override.info.get(REQUEST_TX) is not None and override.info[REQUEST_TX].is_active:
                override.info[REQUEST_TX].rollback()
            raise
        else:
            if override.info[REQUEST_TX].is_active:
                if readonly:
                    override.info[REQUEST_TX].rollback()
                else:
                    override.info[REQUEST_TX].commit()
        finally:
            override.info.pop(REQUEST_TX, None)
            if readonly:
                lift_read_only(override)
        return
    db = get_database(request)
    with db.session_scope(readonly=readonly) as session:
        yield session


DbSession = Annotated[Session, Depends(get_session, scope="function")]
AppSettings = Annotated[Settings, Depends(get_settings)]
