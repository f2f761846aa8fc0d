from __future__ import annotations

from fastapi import APIRouter, FastAPI

from citybase.core.web.access import undeclared_routes


def test_every_route_of_the_app_declares_its_access(app: FastAPI) -> None:
    assert undeclared_routes(app) == []


def test_a_route_without_a_rule_is_caught() -> None:
    """The walk itself must fail on a bare route, or the test above proves nothing."""
    app = FastAPI()
    router = APIRouter(prefix="/api")

    @router.get("/bare")
    def bare() -> dict[str, str]:
        return {}

    app.include_router(router)
    assert "GET /api/bare" in undeclared_routes(app)
