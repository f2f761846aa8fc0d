from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body
from fastapi.responses import JSONResponse

from citybase.core.identity.service import actor_of
from citybase.core.web.deps import DbSession
from citybase.perception.devices import service
from citybase.perception.devices.auth import Manager, Reader
from citybase.perception.devices.schemas import (
    DeviceCreated,
    DeviceIn,
    DeviceRead,
    DeviceTypeIn,
    DeviceTypeRead,
    ImportReport,
)

router = APIRouter(prefix="/api/v1/perception", tags=["perception"])


@router.get("/types")
def types(session: DbSession, principal: Reader) -> list[DeviceTypeRead]:
    return service.types(session)


@router.put("/types")
def put_type(session: DbSession, principal: Manager, data: DeviceTypeIn) -> DeviceTypeRead:
    """Add a device type or change it (by code)."""
    return service.put_type(session, actor_of(principal), data)


@router.get("/devices")
def devices(session: DbSession, principal: Reader, owner: str | None = None) -> list[DeviceRead]:
    """Devices with where they are (WGS84, and GCJ-02 for Chinese web maps) and whether they are
    online."""
    return service.devices(session, owner)


@router.get("/devices/{device_id}")
def device(session: DbSession, principal: Reader, device_id: str) -> DeviceRead:
    return service.get_device(session, device_id)


@router.put("/devices")
def put_device(
    session: DbSession, principal: Manager, data: DeviceIn
) -> DeviceCreated | DeviceRead:
    """Register a device of one's own unit (its credential is in the answer, once) or change it."""
    return service.put_device(session, principal, actor_of(principal), data)


@router.post(
    "/devices/import", response_model=ImportReport,
    responses={422: {"model": ImportReport, "description": "Problems; nothing was registered"}},
)  # fmt: skip
def import_devices(
    session: DbSession,
    principal: Manager,
    content: bytes = Body(media_type="text/csv", description="Devices, one a row"),
) -> Any:
    """Register devices in bulk from CSV: all of them or, with problems, none."""
    report = service.import_csv(session, principal, actor_of(principal), content)
    if report.problems:
        return JSONResponse(report.model_dump(mode="json"), status_code=422)
    return report


@router.post("/devices/{device_id}/secret")
def renew_secret(session: DbSession, principal: Manager, device_id: str) -> DeviceCreated:
    """Give one's own unit's device a new credential (in the answer, once): the old one stops
    working over HTTP at once, over MQTT once the broker's files are written again."""
    return service.renew_secret(session, principal, actor_of(principal), device_id)
