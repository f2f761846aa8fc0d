from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request

from citybase.core.errors import Forbidden
from citybase.core.web.access import declares_access
from citybase.core.web.deps import DbSession
from citybase.perception.devices import service as devices
from citybase.perception.devices.auth import Ingester, Reader
from citybase.perception.rules import service as rules
from citybase.perception.telemetry import service
from citybase.perception.telemetry.schemas import (
    Agg,
    Bucket,
    IngestReport,
    LatestValue,
    Point,
    ReadingIn,
)

router = APIRouter(prefix="/api/v1/perception", tags=["perception"])


@router.post("/readings")
def ingest(session: DbSession, principal: Ingester, readings: list[ReadingIn]) -> IngestReport:
    """A batch of readings from a gateway (its API key's unit must own the devices): each
    reading checked against its device's type, stored whole or refused whole with the reason.
    Answered only once what was accepted is committed."""
    unit = None if "*" in principal.permissions else principal.unit_code
    report, accepted = service.ingest(session, readings, protocol="http", unit=unit)
    rules.judge(session, accepted)
    return report


@declares_access("the device's own credential (X-Device-Secret)")
def device_secret(
    request: Request, session: DbSession, x_device_secret: Annotated[str, Header()] = ""
) -> str:
    device_id = request.path_params.get("device_id", "")
    if not x_device_secret:
        raise Forbidden("send the device's credential in X-Device-Secret", field="X-Device-Secret")
    devices.check_secret(session, device_id, x_device_secret)
    return str(device_id)


@router.post("/devices/{device_id}/readings")
def ingest_one(
    session: DbSession,
    device_id: str,
    readings: list[ReadingIn],
    _: Annotated[str, Depends(device_secret)],
) -> IngestReport:
    """Readings sent by the device itself, with its credential; all must be its own."""
    if any(r.device_id != device_id for r in readings):
        raise Forbidden(f"a device sends its own readings only ({device_id})", field="device_id")
    report, accepted = service.ingest(session, readings, protocol="http")
    rules.judge(session, accepted)
    return report


@router.get("/devices/{device_id}/latest")
def latest(session: DbSession, principal: Reader, device_id: str) -> list[LatestValue]:
    return service.latest(session, device_id)


@router.get("/devices/{device_id}/series/{attr}")
def history(
    session: DbSession,
    principal: Reader,
    device_id: str,
    attr: str,
    start: datetime | None = None,
    end: datetime | None = None,
    last: Annotated[int | None, Query(ge=1, le=100_000)] = None,
) -> list[Point]:
    """Readings of one attribute in [start, end), oldest first, or the newest ``last``."""
    return service.history(session, device_id, attr, start, end, last)


@router.get("/devices/{device_id}/series/{attr}/aggregate")
def aggregate(
    session: DbSession,
    principal: Reader,
    device_id: str,
    attr: str,
    start: datetime,
    end: datetime,
    every: Annotated[int, Query(ge=1, description="Interval in seconds")] = 300,
    agg: Agg = Agg.avg,
) -> list[Bucket]:
    """avg, min, max, sum or count per interval."""
    return service.aggregate(session, device_id, attr, start, end, timedelta(seconds=every), agg)
