from __future__ import annotations

from fastapi import APIRouter

from citybase.core.bus import service
from citybase.core.bus.auth import SystemReader
from citybase.core.bus.schemas import BusOverview
from citybase.core.web.deps import AppSettings, DbSession

router = APIRouter(prefix="/api/v1/system", tags=["system"])


@router.get("/bus")
def bus_overview(session: DbSession, settings: AppSettings, _: SystemReader) -> BusOverview:
    """The outbox backlog, failing and parked deliveries, and the stored jobs."""
    return service.overview(session, settings.bus.max_attempts)
