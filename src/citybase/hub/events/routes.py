from __future__ import annotations

from fastapi import APIRouter

from citybase.core.web.deps import DbSession
from citybase.hub.events import service
from citybase.hub.events.auth import Reader
from citybase.hub.events.schemas import CategoryRead

router = APIRouter(prefix="/api/v1/hub", tags=["city brain"])


@router.get("/categories")
def categories(session: DbSession, principal: Reader) -> list[CategoryRead]:
    """The event taxonomy, 大类, 小类 and 细类, in code order."""
    return service.categories(session)


@router.get("/categories/{code}")
def category_path(session: DbSession, principal: Reader, code: str) -> list[CategoryRead]:
    """A category with those above it, 大类 first."""
    return service.path_of(session, code)
