from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Header, Query, Request

from citybase.core.errors import CitybaseError, Forbidden, InvalidInput
from citybase.core.values import INT64_MAX, DateTime
from citybase.core.web.access import declares_access
from citybase.core.web.deps import DbSession
from citybase.core.web.forms import RawBody
from citybase.core.web.params import QueryTime
from citybase.perception.devices import service as devices
from citybase.perception.devices.auth import Ingester, Manager, Reader
from citybase.perception.rules import service as rules
from citybase.perception.telemetry import service
from citybase.perception.telemetry.schemas import (
    Agg,
    Bucket,
    DeadLetterPage,
    IngestReport,
    LatestValue,
    PlainReading,
    Point,
    Reading,
    ReadingIn,
    Rejected,
)

router = APIRouter(prefix="/api/v1/perception", tags=["perception"])


BATCH_BODY: dict[str, Any] = {"requestBody": {"required": True, "content": {"application/json": {
    "schema": {"type": "array", "items": ReadingIn.model_json_schema()}}}}}  # fmt: skip


FIELDS = {"device_id", "ts", "values"}


def _plain(body: bytes) -> list[PlainReading] | None:
    """A well-formed batch read without pydantic (about four times faster on thousands of
    readings); None at the first thing irregular, for each reading to be checked on its own."""
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


@dataclass
class Batch:
    """A batch as read: the well-formed readings, their places in it, and the others refused."""

    readings: list[Reading]
    where: list[int]
    refused: list[Rejected]


def _readings(body: RawBody) -> Batch:
    """The batch, parsed; a reading that is not well formed is refused on its own with the
    reason (the batch is refused whole only if it is not a JSON list)."""
    plain = _plain(body)
    if plain is not None:
        return Batch(list(plain), list(range(len(plain))), [])
    try:
        items = json.loads(body)  # orjson takes no integer beyond 64 bits: one reading's matter
    except (ValueError, RecursionError) as exc:
        raise CitybaseError(f"the request body is not valid JSON: {str(exc)[:200]}",
                            field="body") from None  # fmt: skip
    if not isinstance(items, list):
        raise InvalidInput("the body is a list of readings", field="body")
    if len(items) > service.MAX_BATCH:
        raise InvalidInput(f"at most {service.MAX_BATCH:,} readings in one batch", field="readings")
    good, where, refused = service.check_items(items, "http")
    return Batch(good, where, refused)


@router.post("/readings", openapi_extra=BATCH_BODY)
def ingest(
    session: DbSession,
    principal: Ingester,
    batch: Annotated[Batch, Depends(_readings)],
) -> IngestReport:
    """A batch of readings from a gateway (its API key's unit must own the devices): each
    reading checked against its device's type, stored whole or refused whole with the reason
    and its place in the batch. Answered only once what was accepted is committed."""
    unit = None if "*" in principal.permissions else principal.unit_code
    report, accepted = service.ingest_items(session, batch.readings, batch.where, batch.refused,
                                            protocol="http", unit=unit)  # fmt: skip
    rules.judge(session, accepted)
    return report


@router.get("/dead-letters")
def dead_letters(
    session: DbSession,
    principal: Manager,
    page: Annotated[int, Query(ge=1)] = 1,
    per_page: Annotated[int, Query(ge=1, le=500)] = 50,
) -> DeadLetterPage:
    """Device messages that could not be stored (not understood, or refused), newest first:
    a unit's administrators see those of their unit's devices, the platform's all."""
    unit = None if "*" in principal.permissions else principal.unit_code
    return service.dead_letters(session, unit, page, per_page)


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
