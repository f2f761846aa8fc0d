"""NGSI-LD (ETSI GS CIM 009) at ``/ngsi-ld/v1/``: entities created, retrieved, deleted and
queried, in JSON or JSON-LD, with the ``@context`` from the ``Link`` header or the body; errors as
ProblemDetails."""

from __future__ import annotations

import re
import uuid
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import JSONResponse, Response

from citybase.core.errors import CitybaseError
from citybase.core.identity.schemas import Principal
from citybase.core.net import OutboundPolicy
from citybase.core.settings import Settings
from citybase.core.values import INT64_MAX
from citybase.core.web.deps import AppSettings, DbSession
from citybase.core.web.errors import NGSI_LD_ERRORS
from citybase.core.web.params import Offset
from citybase.perception.context import jsonld, service, subscriptions, temporal
from citybase.perception.context.auth import (
    Scope,
    public_types,
    scope_for,
    subscription_unit,
    writer_of,
)
from citybase.perception.context.service import BadRequestData, InvalidRequest, ResourceNotFound
from citybase.perception.devices.auth import Manager, Reader

router = APIRouter(prefix="/ngsi-ld/v1", tags=["NGSI-LD"])
LINK = re.compile(r'<([^>]+)>\s*;(?:[^,]*rel="?http://www\.w3\.org/ns/json-ld#context"?)')
JSON_LD = "application/ld+json"
GEO_JSON = "application/geo+json"


def _link_context(link: str | None) -> str | None:
    if not link:
        return None
    found = LINK.search(link)
    if found is None:
        raise BadRequestData('a Link header names a context with rel="http://www.w3.org/ns/json-ld'
                             '#context"', field="Link")  # fmt: skip
    return found.group(1)


def _reader_context(link: str | None) -> list[Any]:
    """The reader's contexts, refused at once when one is not known here."""
    context = jsonld.context_of(_link_context(link))
    jsonld.expand_names(context, set(), set())
    return context


class _Json(JSONResponse):
    """JSON written by orjson: answers here can hold thousands of instances."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def _feature(entity: dict[str, Any], geometry: str) -> dict[str, Any]:
    """An entity as a GeoJSON Feature: its geometry property's value as the geometry, the rest
    (its type too) as the properties."""
    place = entity.get(geometry)
    shape_ = place.get("value") if isinstance(place, dict) and "coordinates" not in place else place
    return {"id": entity["id"], "type": "Feature",
            "geometry": shape_ if isinstance(shape_, dict) else None,
            "properties": {k: v for k, v in entity.items() if k != "id"}}  # fmt: skip


def _answer(request: Request, body: Any, context: list[Any], status: int = 200,
            headers: dict[str, str] | None = None, geometry: str = "location") -> Response:  # fmt: skip
    """JSON with the context in a Link header, JSON-LD with it in the body, or GeoJSON (a
    Feature, or a FeatureCollection for a list, with the context as a member), as asked."""
    headers = dict(headers or {})
    user = [c for c in context if c != jsonld.CORE_URL]
    accept = request.headers.get("accept", "")
    ctx: Any = user[0] if len(user) == 1 else (context if user else jsonld.CORE_URL)
    if GEO_JSON in accept and JSON_LD not in accept:
        if isinstance(body, list):
            geo: dict[str, Any] = {"type": "FeatureCollection",
                                   "features": [_feature(e, geometry) for e in body]}  # fmt: skip
        else:
            geo = _feature(body, geometry)
        geo["@context"] = ctx
        return _Json(geo, status_code=status, media_type=GEO_JSON, headers=headers)
    if JSON_LD in accept:
        items = body if isinstance(body, list) else [body]
        for item in items:
            item["@context"] = ctx
        return _Json(body, status_code=status, media_type=JSON_LD, headers=headers)
    link = user[0] if user and isinstance(user[0], str) else jsonld.CORE_URL
    headers["Link"] = f'<{link}>; rel="http://www.w3.org/ns/json-ld#context"; type="{JSON_LD}"'
    return _Json(body, status_code=status, headers=headers)


async def _body(request: Request) -> tuple[Any, list[Any]]:
    kind = request.headers.get("content-type", "").split(";")[0].strip()
    if kind not in ("application/json", JSON_LD):
        raise InvalidRequest("send application/json or application/ld+json",
                             field="Content-Type")  # fmt: skip
    try:
        body = orjson.loads(await request.body())
    except ValueError as exc:
        raise InvalidRequest(f"the body is not JSON: {exc}", field="body") from None
    link = request.headers.get("link")
    if kind == JSON_LD:
        if link:
            raise BadRequestData("application/ld+json carries its @context in the body, not in "
                                 "a Link header", field="Link")  # fmt: skip
        if not isinstance(body, dict) or "@context" not in body:
            raise BadRequestData("application/ld+json needs an @context in the body",
                                 field="@context")  # fmt: skip
        return body, jsonld.context_of(body["@context"])
    if isinstance(body, dict) and "@context" in body:
        raise BadRequestData("application/json takes its @context from a Link header",
                             field="@context")  # fmt: skip
    return body, jsonld.context_of(_link_context(link))


def _options(options: str | None) -> set[str]:
    return {o.strip() for o in (options or "").split(",") if o.strip()}


def _form(options: set[str], format_: str | None) -> str:
    """normalized, keyValues or concise, from ``format`` or ``options`` (1.6 accepts both)."""
    chosen = format_ or next((o for o in options if o in service.FORMS), "normalized")
    if chosen not in service.FORMS:
        raise BadRequestData("format is normalized, keyValues or concise", field="format")
    return chosen


@router.post("/entities", status_code=201)
@router.post("/entities/", status_code=201, include_in_schema=False)
async def create_entity(request: Request, session: DbSession, principal: Manager) -> Response:
    """Create an entity (normalized form); it belongs to the creator's unit (a registered
    device's entity to the device's unit)."""
    body, context = await _body(request)
    entity_id = service.create(session, body, context, writer=writer_of(principal))
    return Response(status_code=201, headers={"Location": f"/ngsi-ld/v1/entities/{entity_id}"})


@router.get("/entities")
@router.get("/entities/", include_in_schema=False)
def query_entities(
    request: Request,
    session: DbSession,
    scope: Scope,
    type: str | None = None,
    id: str | None = None,
    idPattern: str | None = None,
    attrs: str | None = None,
    q: str | None = None,
    georel: str | None = None,
    geometry: str | None = None,
    coordinates: str | None = None,
    geoproperty: str = "location",
    limit: Annotated[int, Query(ge=0, le=1000)] = 20,
    offset: Offset = 0,
    count: bool = False,
    options: str | None = None,
    format: str | None = None,
    geometryProperty: str = "location",
    link: Annotated[str | None, Header()] = None,
) -> Response:
    """Entities by type, id, id pattern or attributes; ``count=true`` puts the total in the
    ``NGSILD-Results-Count`` header; ``options=keyValues`` or ``concise`` for the simpler
    forms; ``Accept: application/geo+json`` for a FeatureCollection."""
    context = _reader_context(link)
    chosen = _options(options)
    found, total = service.query(
        session, context, types=_split(type), ids=_split(id), id_pattern=idPattern,
        attrs=_split(attrs), limit=limit, offset=offset, form=_form(chosen, format),
        sys_attrs="sysAttrs" in chosen, q=q, geoproperty=geoproperty,
        geo=_geo(georel, geometry, coordinates), count=count, scope=scope,
    )  # fmt: skip
    headers = {"NGSILD-Results-Count": str(total)} if count else {}
    return _answer(request, found, context, headers=headers, geometry=geometryProperty)


def _geo(georel: str | None, geometry: str | None,
         coordinates: str | None) -> tuple[str, str, str] | None:  # fmt: skip
    given = [v for v in (georel, geometry, coordinates) if v]
    if not given:
        return None
    if len(given) < 3:
        raise BadRequestData("a geo-query needs georel, geometry and coordinates", field="georel")
    return georel or "", geometry or "", coordinates or ""


def _split(value: str | None) -> list[str] | None:
    items = [v.strip() for v in (value or "").split(",") if v.strip()]
    return items or None


@router.get("/entities/{entity_id}")
def retrieve_entity(
    request: Request,
    session: DbSession,
    scope: Scope,
    entity_id: str,
    attrs: str | None = None,
    options: str | None = None,
    format: str | None = None,
    geometryProperty: str = "location",
    link: Annotated[str | None, Header()] = None,
) -> Response:
    context = _reader_context(link)
    chosen = _options(options)
    found = service.retrieve(session, entity_id, context, form=_form(chosen, format),
                             sys_attrs="sysAttrs" in chosen, attrs=_split(attrs),
                             scope=scope)  # fmt: skip
    return _answer(request, found, context, geometry=geometryProperty)


@router.delete("/entities/{entity_id}", status_code=204)
def delete_entity(
    session: DbSession, principal: Manager, settings: AppSettings, entity_id: str
) -> Response:
    service.delete(session, entity_id, **_as_writer(principal, settings))
    return Response(status_code=204)


def _partial(not_done: list[dict[str, str]], done: list[str]) -> Response:
    """204 when everything was done, else 207 with what was and what was not."""
    if not not_done:
        return Response(status_code=204)
    return JSONResponse({"updated": done, "notUpdated": not_done}, status_code=207)


@router.post("/entities/{entity_id}/attrs", status_code=204)
async def append_attrs(
    request: Request, session: DbSession, principal: Manager, settings: AppSettings,
    entity_id: str, options: str | None = None,
) -> Response:  # fmt: skip
    """Append attributes; ``options=noOverwrite`` keeps those the entity has."""
    body, context = await _body(request)
    kept = service.append_attrs(session, entity_id, body, context,
                                no_overwrite="noOverwrite" in _options(options),
                                **_as_writer(principal, settings))  # fmt: skip
    names = [k for k in body if k not in ("id", "type", "@context")]
    return _partial(kept, [n for n in names if n not in {k["attributeName"] for k in kept}])


@router.patch("/entities/{entity_id}/attrs", status_code=204)
async def update_attrs(
    request: Request, session: DbSession, principal: Manager, settings: AppSettings,
    entity_id: str,
) -> Response:  # fmt: skip
    """Update attributes the entity has; the others are reported (207)."""
    body, context = await _body(request)
    missing = service.update_attrs(session, entity_id, body, context,
                                   **_as_writer(principal, settings))  # fmt: skip
    names = [k for k in body if k not in ("id", "type", "@context")]
    return _partial(missing, [n for n in names if n not in {m["attributeName"] for m in missing}])


@router.patch("/entities/{entity_id}/attrs/{attr}", status_code=204)
async def patch_attr(
    request: Request, session: DbSession, principal: Manager, settings: AppSettings,
    entity_id: str, attr: str,
) -> Response:  # fmt: skip
    """Partial update of one attribute."""
    body, context = await _body(request)
    service.patch_attr(session, entity_id, attr, body, context, **_as_writer(principal, settings))
    return Response(status_code=204)


@router.delete("/entities/{entity_id}/attrs/{attr}", status_code=204)
def delete_attr(
    session: DbSession, principal: Manager, settings: AppSettings, entity_id: str, attr: str,
    link: Annotated[str | None, Header()] = None,
) -> Response:  # fmt: skip
    service.delete_attr(session, entity_id, attr, _reader_context(link),
                        **_as_writer(principal, settings))  # fmt: skip
    return Response(status_code=204)


@router.put("/entities/{entity_id}", status_code=204)
async def replace_entity(
    request: Request, session: DbSession, principal: Manager, settings: AppSettings,
    entity_id: str,
) -> Response:  # fmt: skip
    body, context = await _body(request)
    service.replace(session, entity_id, body, context, **_as_writer(principal, settings))
    return Response(status_code=204)


def _as_writer(principal: Principal, settings: Settings) -> dict[str, Any]:
    """Who writes (and owns what it creates), and what it can see of what is there: an entity
    it may not read is not found, one it may read but does not own is refused (403)."""
    scope = scope_for(principal, settings.perception.entity_read,
                      public_types(settings.perception.public_entity_types))  # fmt: skip
    return {"writer": writer_of(principal), "scope": scope}


def _problem(exc: CitybaseError) -> dict[str, Any]:
    kind = exc.code if exc.code in NGSI_LD_ERRORS else "BadRequestData"
    return {"type": f"https://uri.etsi.org/ngsi-ld/errors/{kind}", "title": kind,
            "detail": exc.message, "status": exc.status_code}  # fmt: skip


@router.post("/entityOperations/{operation}")
async def batch(
    request: Request, session: DbSession, principal: Manager, settings: AppSettings,
    operation: str, options: str | None = None,
) -> Response:  # fmt: skip
    """Batch create, upsert (``options=update`` to merge instead of replace), update or delete:
    each entity on its own (a savepoint each); 201/204 when all succeed, else 207 with which did
    and why the others did not."""
    if operation not in ("create", "upsert", "update", "delete"):
        raise ResourceNotFound(f"no batch operation {operation}", field="operation")
    body, context = await _body(request)
    if not isinstance(body, list) or len(body) > 1000:
        raise BadRequestData("a batch is a JSON array of at most 1,000", field="body")
    succeeded: list[str] = []
    failed: list[dict[str, Any]] = []
    created = False
    merge = "update" in _options(options)
    writing = _as_writer(principal, settings)
    if operation in ("create", "upsert"):
        succeeded, refused, created = service.upsert_many(
            session,
            body,
            context,
            create_only=operation == "create",
            replace_all=not merge,
            writer=writing["writer"],
        )
        failed = [{"entityId": str(i), "error": _problem(e)} for i, e in refused]
        body = []
    for item in body:
        entity_id = item if operation == "delete" else (item.get("id") if isinstance(item, dict)
                                                         else None)  # fmt: skip
        try:
            with session.begin_nested():
                if operation == "create":
                    service.create(session, item, context, writer=writing["writer"])
                    created = True
                elif operation == "upsert":
                    created = (
                        service.upsert(session, item, context, replace_all=not merge, **writing)
                        or created
                    )
                elif operation == "update":
                    if not isinstance(entity_id, str):
                        raise BadRequestData("each entity needs its id", field="id")
                    missing = service.update_attrs(session, entity_id, item, context, **writing)
                    if missing:
                        raise BadRequestData("no such attributes: " + ", ".join(
                            m["attributeName"] for m in missing))  # fmt: skip
                else:
                    if not isinstance(item, str):
                        raise BadRequestData("delete takes an array of entity ids", field="body")
                    service.delete(session, item, **writing)
            succeeded.append(str(entity_id))
        except CitybaseError as exc:
            failed.append({"entityId": str(entity_id), "error": _problem(exc)})
    if failed:
        return JSONResponse({"success": succeeded, "errors": failed}, status_code=207)
    if operation == "create" or (operation == "upsert" and created):
        return JSONResponse(succeeded, status_code=201)
    return Response(status_code=204)


@router.get("/types")
def types(
    request: Request, session: DbSession, scope: Scope, details: bool = False,
    link: Annotated[str | None, Header()] = None,
) -> Response:  # fmt: skip
    """The entity types held (``details=true``: with their attribute names)."""
    context = _reader_context(link)
    found = service.types_and_attributes(session, context, scope)
    if details:
        body: Any = [{"id": t, "type": "EntityType", "typeName": t, "attributeNames": a}
                     for t, a in found.items()]  # fmt: skip
    else:
        body = {"id": f"urn:ngsi-ld:EntityTypeList:{uuid.uuid4()}", "type": "EntityTypeList",
                "typeList": list(found)}  # fmt: skip
    return _answer(request, body, context)


@router.get("/attributes")
def attributes(
    request: Request, session: DbSession, scope: Scope,
    link: Annotated[str | None, Header()] = None,
) -> Response:  # fmt: skip
    """The attribute names held, across all types."""
    context = _reader_context(link)
    found = service.types_and_attributes(session, context, scope)
    names = sorted({a for attrs in found.values() for a in attrs})
    return _answer(request, {"id": f"urn:ngsi-ld:AttributeList:{uuid.uuid4()}",
                             "type": "AttributeList", "attributeList": names}, context)  # fmt: skip


# --- subscriptions ------------------------------------------------------------------------------


@router.post("/subscriptions", status_code=201)
@router.post("/subscriptions/", status_code=201, include_in_schema=False)
async def create_subscription(
    request: Request, session: DbSession, principal: Manager, settings: AppSettings
) -> Response:
    """Subscribe an endpoint (http(s):// or mqtt://host:port/topic) to changes of entities;
    the subscription is the creator's unit's, and hears only of what that unit may read."""
    body, context = await _body(request)
    sub_id = subscriptions.create(session, body, context, owner=principal.username,
                                  hosts=settings.perception.notification_hosts,
                                  unit=principal.unit_code, outbound=_outbound(settings))  # fmt: skip
    return Response(status_code=201, headers={"Location": f"/ngsi-ld/v1/subscriptions/{sub_id}"})


@router.get("/subscriptions")
@router.get("/subscriptions/", include_in_schema=False)
def list_subscriptions(
    request: Request, session: DbSession, principal: Reader,
    limit: Annotated[int, Query(ge=0, le=1000)] = 20, offset: Offset = 0,
    count: bool = False, link: Annotated[str | None, Header()] = None,
) -> Response:  # fmt: skip
    context = _reader_context(link)
    found, total = subscriptions.listing(session, context, limit=limit, offset=offset,
                                         unit=subscription_unit(principal))  # fmt: skip
    headers = {"NGSILD-Results-Count": str(total)} if count else {}
    return _answer(request, found, context, headers=headers)


@router.get("/subscriptions/{sub_id}")
def retrieve_subscription(
    request: Request, session: DbSession, principal: Reader, sub_id: str,
    link: Annotated[str | None, Header()] = None,
) -> Response:  # fmt: skip
    context = _reader_context(link)
    found = subscriptions.retrieve(session, sub_id, context, unit=subscription_unit(principal))
    return _answer(request, found, context)


@router.patch("/subscriptions/{sub_id}", status_code=204)
async def update_subscription(
    request: Request, session: DbSession, principal: Manager, settings: AppSettings, sub_id: str
) -> Response:
    """Change some members (``isActive: false`` pauses it)."""
    body, context = await _body(request)
    subscriptions.update(session, sub_id, body, context,
                         hosts=settings.perception.notification_hosts,
                         unit=subscription_unit(principal), outbound=_outbound(settings))  # fmt: skip
    return Response(status_code=204)


@router.delete("/subscriptions/{sub_id}", status_code=204)
def delete_subscription(session: DbSession, principal: Manager, sub_id: str) -> Response:
    subscriptions.delete(session, sub_id, unit=subscription_unit(principal))
    return Response(status_code=204)


def _outbound(settings: Settings) -> OutboundPolicy:
    return OutboundPolicy.parse(settings.web.outbound_allow)


# --- the temporal API ---------------------------------------------------------------------------


def _window(
    timerel: str | None = None,
    timeAt: str | None = None,
    endTimeAt: str | None = None,
    lastN: Annotated[int | None, Query(ge=1, le=INT64_MAX)] = None,
    options: str | None = None,
    aggrMethods: str | None = None,
    aggrPeriodDuration: str | None = None,
) -> temporal.Window:
    """The temporal query's time window and form, from its query parameters."""
    return temporal.window(timerel, timeAt, endTimeAt, lastN, _options(options), aggrMethods,
                           aggrPeriodDuration)  # fmt: skip


TemporalWindow = Annotated[temporal.Window, Depends(_window)]


@router.get("/temporal/entities")
@router.get("/temporal/entities/", include_in_schema=False)
def temporal_query(
    request: Request,
    session: DbSession,
    scope: Scope,
    win: TemporalWindow,
    type: str | None = None,
    id: str | None = None,
    idPattern: str | None = None,
    attrs: str | None = None,
    limit: Annotated[int, Query(ge=0, le=1000)] = 20,
    offset: Offset = 0,
    count: bool = False,
    link: Annotated[str | None, Header()] = None,
) -> Response:
    """Entities' histories: by type, id, id pattern and attributes; ``timerel`` before, after or
    between ``timeAt`` (and ``endTimeAt``); ``lastN``; ``options=temporalValues`` or
    ``aggregatedValues`` with ``aggrMethods`` and ``aggrPeriodDuration``."""
    context = _reader_context(link)
    if not (type or id or idPattern or attrs):
        raise BadRequestData("give type, id, idPattern or attrs", field="type")
    found, total = temporal.query(session, context, win, types=_split(type), ids=_split(id),
                                  id_pattern=idPattern, attrs=_split(attrs), limit=limit,
                                  offset=offset, scope=scope)  # fmt: skip
    headers = {"NGSILD-Results-Count": str(total)} if count else {}
    return _answer(request, found, context, headers=headers)


@router.get("/temporal/entities/{entity_id}")
def temporal_retrieve(
    request: Request,
    session: DbSession,
    scope: Scope,
    entity_id: str,
    win: TemporalWindow,
    attrs: str | None = None,
    link: Annotated[str | None, Header()] = None,
) -> Response:
    context = _reader_context(link)
    return _answer(request, temporal.retrieve(session, entity_id, context, win,
                                              attrs=_split(attrs), scope=scope), context)  # fmt: skip


@router.post("/temporal/entities", status_code=201)
@router.post("/temporal/entities/", status_code=201, include_in_schema=False)
async def temporal_create(
    request: Request, session: DbSession, principal: Manager, settings: AppSettings
) -> Response:
    """Add a temporal representation's instances: 201 for an entity with no history yet, 204
    when it adds to one (of the writer's own unit's entities only)."""
    body, context = await _body(request)
    if temporal.add(session, body, context, **_as_writer(principal, settings)):
        return Response(status_code=201,
                        headers={"Location": f"/ngsi-ld/v1/temporal/entities/{body['id']}"})  # fmt: skip
    return Response(status_code=204)


@router.post("/temporal/entities/{entity_id}/attrs", status_code=204)
async def temporal_add(
    request: Request, session: DbSession, principal: Manager, settings: AppSettings,
    entity_id: str,
) -> Response:  # fmt: skip
    body, context = await _body(request)
    temporal.add(session, body, context, entity_id=entity_id, **_as_writer(principal, settings))
    return Response(status_code=204)


@router.delete("/temporal/entities/{entity_id}", status_code=204)
def temporal_delete(
    session: DbSession, principal: Manager, settings: AppSettings, entity_id: str
) -> Response:
    temporal.remove(session, entity_id, **_as_writer(principal, settings))
    return Response(status_code=204)


@router.patch("/temporal/entities/{entity_id}/attrs/{attr}/{instance_id}", status_code=204)
async def temporal_modify_instance(
    request: Request, session: DbSession, principal: Manager, settings: AppSettings,
    entity_id: str, attr: str, instance_id: str,
) -> Response:  # fmt: skip
    """Change one instance of an attribute's history (its value, unitCode, sub-attributes)."""
    body, context = await _body(request)
    temporal.modify_instance(session, entity_id, attr, instance_id, body, context,
                             **_as_writer(principal, settings))  # fmt: skip
    return Response(status_code=204)


@router.delete("/temporal/entities/{entity_id}/attrs/{attr}/{instance_id}", status_code=204)
def temporal_delete_instance(
    session: DbSession, principal: Manager, settings: AppSettings, entity_id: str, attr: str,
    instance_id: str, link: Annotated[str | None, Header()] = None,
) -> Response:  # fmt: skip
    """Delete one instance of an attribute's history."""
    temporal.delete_instance(session, entity_id, attr, instance_id, _reader_context(link),
                             **_as_writer(principal, settings))  # fmt: skip
    return Response(status_code=204)


@router.delete("/temporal/entities/{entity_id}/attrs/{attr}", status_code=204)
def temporal_delete_attr(
    session: DbSession, principal: Manager, settings: AppSettings, entity_id: str, attr: str,
    link: Annotated[str | None, Header()] = None,
) -> Response:  # fmt: skip
    temporal.remove(session, entity_id, attr, _reader_context(link),
                    **_as_writer(principal, settings))  # fmt: skip
    return Response(status_code=204)
