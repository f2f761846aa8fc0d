from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Header, Query, Request
from pydantic import TypeAdapter, ValidationError

from citybase.core.errors import CitybaseError, Forbidden, InvalidInput
from citybase.core.values import INT64_MAX, DateTime
from citybase.core.web.access import declares_access
from citybase.core.web.deps import DbSession
from citybase.core.web.params import QueryTime
from citybase.perception.devices import service as devices
from citybase.perception.devices.auth import Ingester, Reader
from citybase.perception.rules import service as rules
from citybase.perception.telemetry import service
from citybase.perception.telemetry.schemas import (
    Agg,
    Bucket,
    IngestReport,
    LatestValue,
    PlainReading,
    Point,
    Reading,
    ReadingIn,
)

router = APIRouter(prefix="/api/v1/perception", tags=["perception"])


READINGS = TypeAdapter(list[ReadingIn])
BATCH_BODY: dict[str, Any] = {"requestBody": {"required": True, "content": {"application/json": {
    "schema": {"type": "array", "items": ReadingIn.model_json_schema()}}}}}  # fmt: skip


FIELDS = {"device_id", "ts", "values"}


def _plain(body: bytes) -> list[PlainReading] | None:
    """A well-formed batch read without pydantic (about four times faster on thousands of
    readings); None at the first thing irregular, for pydantic to name precisely."""
    try:
        items = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(items, list):
        return None
    out = []
    for item in items:
        if not isinstance(item, dict) or not item.keys() <= FIELDS:
            return None
        device_id, ts, values = item.get("device_id"), item.get("ts"), item.get("values")
        if not isinstance(device_id, str) or len(device_id) > 100 or not isinstance(values, dict):
            return None
        if ts is not None:
            if not isinstance(ts, str) or len(ts) < 19 or ts[10] != "T" or ts[0] == "0" \
                    or ts.startswith("9999"):  # fmt: skip  # years before 1000 or near 9999: pydantic checks them
                return None
            try:
                ts = datetime.fromisoformat(ts)
            except ValueError:
                return None
        out.append(PlainReading(device_id, ts, values))
    return out


async def _readings(request: Request) -> list[Reading]:
    """The batch, parsed and checked; an irregular one is validated by pydantic straight from
    the body's bytes, which names what is wrong."""
    body = await request.body()
    plain = _plain(body)
    if plain is not None:
        return list(plain)
    try:
        return list(READINGS.validate_json(body))
    except ValidationError as exc:
        first = exc.errors()[0]
        if first["type"] == "json_invalid":
            raise CitybaseError(f"the request body is not valid JSON: {first['msg']}",
                                field="body") from None  # fmt: skip
        where = ".".join(str(p) for p in first["loc"])
        raise InvalidInput(f"{where}: {first['msg']}", field=where) from None


@router.post("/readings", openapi_extra=BATCH_BODY)
def ingest(
    session: DbSession,
    principal: Ingester,
    readings: Annotated[list[Reading], Depends(_readings)],
) -> IngestReport:
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
    start: QueryTime = None,
    end: QueryTime = None,
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
    start: Annotated[DateTime, Query()],
    end: Annotated[DateTime, Query()],
    every: Annotated[int, Query(ge=1, le=INT64_MAX, description="Interval in seconds")] = 300,
    agg: Agg = Agg.avg,
) -> list[Bucket]:
    """avg, min, max, sum or count per interval."""
    return service.aggregate(session, device_id, attr, start, end, timedelta(seconds=every), agg)
