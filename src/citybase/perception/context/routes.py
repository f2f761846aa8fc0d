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
from citybase.core.web.deps import AppSettings, DbSession
from citybase.core.web.errors import NGSI_LD_ERRORS
from citybase.core.web.params import Offset
from citybase.perception.context import jsonld, notify, ordering, service, subscriptions
from citybase.perception.context import query as query_language
from citybase.perception.context.attributes import URI as URI_RE
from citybase.perception.context.attributes import check_id
from citybase.perception.context.auth import (
    Scope,
    public_types,
    scope_for,
    subscription_unit,
    writer_of,
)
from citybase.perception.context.models import ContextEntity
from citybase.perception.context.service import BadRequestData, InvalidRequest, ResourceNotFound
from citybase.perception.devices.auth import Manager, Reader

JSON_LD = "application/ld+json"
GEO_JSON = "application/geo+json"
MERGE_PATCH = "application/merge-patch+json"
ANSWERABLE = {"application/json", JSON_LD, GEO_JSON, "*/*", "application/*"}


class NotAcceptable(CitybaseError):
    status_code = 406
    code = "InvalidRequest"


class UnsupportedMediaType(CitybaseError):
    status_code = 415
    code = "InvalidRequest"


def _media(request: Request) -> None:
    """406 when the reader accepts nothing this API writes; 415 for a body in a type it does
    not read — before anything else is looked at."""
    accept = request.headers.get("accept")
    if accept:
        kinds = {part.split(";")[0].strip().lower() for part in accept.split(",")}
        if not kinds & ANSWERABLE:
            raise NotAcceptable("answers are application/json, application/ld+json or "
                                "application/geo+json", field="Accept")  # fmt: skip
    if request.method in ("POST", "PATCH", "PUT"):
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        allowed = ("application/json", JSON_LD, MERGE_PATCH) if request.method == "PATCH" \
            else ("application/json", JSON_LD)  # fmt: skip
        if kind not in allowed and (kind or request.headers.get("content-length", "0") != "0"):
            raise UnsupportedMediaType(f"send {' or '.join(allowed)}", field="Content-Type")


router = APIRouter(prefix="/ngsi-ld/v1", tags=["NGSI-LD"], dependencies=[Depends(_media)])
LINK = re.compile(r'<([^>]+)>\s*;(?:[^,]*rel="?http://www\.w3\.org/ns/json-ld#context"?)')
COMMON = {"options", "format", "local", "lang", "attrs", "pick", "omit", "type", "geometryProperty",
          "limit", "offset", "count", "details", "join", "joinLevel", "entityMap", "containedBy",
          "datasetId", "deleteAll", "expandValues", "scopeQ", "q", "id", "idPattern", "georel",
          "geometry", "coordinates", "geoproperty", "csf", "orderBy", "orderFrom", "collation",
          "timerel", "timeAt", "endTimeAt", "lastN", "aggrMethods", "aggrPeriodDuration",
          "timeproperty", "drop", "keep", "observedAt", "doNotCompact"}  # fmt: skip


def _known_params(request: Request, allowed: set[str] = COMMON) -> None:
    unknown = sorted(set(request.query_params) - allowed)
    if unknown:
        raise InvalidRequest(f"unknown parameter {unknown[0]}", field=unknown[0])


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
    context_link = f'<{link}>; rel="http://www.w3.org/ns/json-ld#context"; type="{JSON_LD}"'
    headers["Link"] = ", ".join(v for v in (context_link, headers.get("Link")) if v)
    return _Json(body, status_code=status, headers=headers)


async def _body(request: Request) -> tuple[Any, list[Any]]:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind not in ("application/json", JSON_LD, MERGE_PATCH):
        raise UnsupportedMediaType("send application/json or application/ld+json",
                                   field="Content-Type")  # fmt: skip
    _known_params(request)
    try:
        body = orjson.loads(await request.body())
    except ValueError as exc:
        raise InvalidRequest(f"the body is not JSON: {exc}", field="body") from None
    link = request.headers.get("link")
    if kind == JSON_LD:
        if link:
            raise BadRequestData("application/ld+json carries its @context in the body, not in "
                                 "a Link header", field="Link")  # fmt: skip
        if isinstance(body, list):  # a batch: each entity carries its own @context
            return body, jsonld.context_of(None)
        if not isinstance(body, dict) or "@context" not in body:
            raise BadRequestData("application/ld+json needs an @context in the body",
                                 field="@context")  # fmt: skip
        return body, jsonld.context_of(body["@context"])
    if isinstance(body, dict) and "@context" in body:
        raise BadRequestData("application/json takes its @context from a Link header",
                             field="@context")  # fmt: skip
    return body, jsonld.context_of(_link_context(link))


OPTIONS = {"keyValues", "simplified", "normalized", "concise", "sysAttrs", "noOverwrite",
           "update", "replace", "temporalValues", "aggregatedValues", "audit", "splitEntity"}  # fmt: skip


def _options(options: str | None) -> set[str]:
    chosen = {o.strip() for o in (options or "").split(",") if o.strip()}
    unknown = sorted(chosen - OPTIONS)
    if unknown:
        raise InvalidRequest(f"unknown option {unknown[0]}", field="options")
    return chosen


def _form(options: set[str], format_: str | None) -> str:
    """normalized, keyValues (simplified) or concise, from ``format`` or ``options``."""
    given = "keyValues" if format_ == "simplified" else format_
    if given is not None and given not in service.FORMS:
        raise InvalidRequest("format is normalized, simplified (keyValues) or concise",
                             field="format")  # fmt: skip
    found = {"keyValues" if o == "simplified" else o for o in options} & set(service.FORMS)
    return given or next(iter(sorted(found)), "normalized")


PROJECTION = re.compile(r"^[^\s{}(),|;=<>\"']+$")


def _outer(text: str, field: str) -> tuple[str, int]:
    """A projection with its nested parts (``locatedAt{name}``) taken out, and how deep they go."""
    out, depth, deepest = [], 0, 0
    for char in text:
        if char == "{":
            depth += 1
            deepest = max(deepest, depth)
        elif char == "}":
            depth -= 1
            if depth < 0:
                raise BadRequestData(f"{field}: a }} without its {{", field=field)
        elif depth == 0:
            out.append(char)
    if depth:
        raise BadRequestData(f"{field}: a {{ is not closed", field=field)
    return "".join(out), deepest


def _projection(pick: str | None, omit: str | None, attrs: str | None,
                nested: bool = False, levels: int = 1) -> tuple[set[str] | None, set[str]]:  # fmt: skip
    """``pick`` and ``omit``: members (``id``, ``type``, attributes) separated by ``,`` or
    ``|``; nested projections need linked entities, which are not joined here."""

    def members(text: str | None, field: str) -> set[str] | None:
        if text is None:
            return None
        if nested:  # a projection into linked entities: the linking entity's members kept here
            text, deep = _outer(text, field)
            if deep > levels:
                raise BadRequestData(f"{field} goes deeper than joinLevel", field=field)
        items = re.split(r"[,|]", text)
        for item in items:
            if not item or not PROJECTION.match(item):
                raise BadRequestData(f"{field}: {item!r} is not a member name", field=field)
        return set(items)

    picked, omitted = members(pick, "pick"), members(omit, "omit") or set()
    if (picked is not None or omitted) and attrs is not None:
        raise BadRequestData("pick or omit, or attrs: not both", field="attrs")
    if picked is not None and picked & omitted:
        raise BadRequestData("a member is both picked and omitted", field="pick")
    return picked, omitted


def _project(entity: dict[str, Any], picked: set[str] | None, omitted: set[str]) -> dict[str, Any]:
    return {k: v for k, v in entity.items()
            if (picked is None or k in picked or k == "@context") and k not in omitted}  # fmt: skip


def _join_mode(join: str | None, level: str | None) -> tuple[str | None, int]:
    if join is not None and join not in ("flat", "inline", "@none"):
        raise BadRequestData("join is flat, inline or @none", field="join")
    try:
        depth = int(level) if level is not None else 1
    except ValueError:
        raise BadRequestData("joinLevel is a whole number from 1", field="joinLevel") from None
    if depth < 1:
        raise BadRequestData("joinLevel is a whole number from 1", field="joinLevel")
    return (None if join == "@none" else join), depth


def _join(session: Any, scope: Any, context: list[Any], found: list[dict[str, Any]], mode: str,
          depth: int, form: str, lang: str | None) -> list[dict[str, Any]]:  # fmt: skip
    """Linked entities: each Relationship's object entity put inside it (``inline``) or beside
    the entities (``flat``), to ``depth`` levels."""
    beside: dict[str, dict[str, Any]] = {}
    shown = {e.get("id") for e in found}

    def walk(entity: dict[str, Any], level: int) -> None:
        stored = session.get(ContextEntity, entity.get("id"))
        if stored is None:
            return
        normal = service.render_entity(stored, context)
        for name, attr in normal.items():
            if not isinstance(attr, dict) or attr.get("type") != "Relationship" or \
                    name not in entity:  # fmt: skip
                continue
            target = attr.get("object")
            if not isinstance(target, str):
                continue
            try:
                linked = service.retrieve(session, target, context, form=form, scope=scope,
                                          lang=lang)  # fmt: skip
            except CitybaseError:
                continue
            if level < depth:
                walk(linked, level + 1)
            if mode == "inline":
                if form == "keyValues":
                    entity[name] = linked
                elif isinstance(entity[name], dict):
                    entity[name]["entity"] = linked
            elif target not in shown:
                beside.setdefault(target, linked)

    for entity in found:
        walk(entity, 1)
    return found + list(beside.values())


def _lang(lang: str | None) -> str | None:
    if lang is not None and not re.fullmatch(r"\s*(\*|[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*)"
                                             r"(\s*;\s*q=[01](\.\d{0,3})?)?\s*"
                                             r"(,\s*(\*|[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*)"
                                             r"(\s*;\s*q=[01](\.\d{0,3})?)?\s*)*", lang):  # fmt: skip
        raise BadRequestData(f"lang {lang!r} is not a language range", field="lang")
    return lang


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
    geometryProperty: str | None = None,
    pick: str | None = None,
    omit: str | None = None,
    lang: str | None = None,
    scopeQ: str | None = None,
    link: Annotated[str | None, Header()] = None,
) -> Response:
    """Entities by type, id, id pattern or attributes; ``count=true`` puts the total in the
    ``NGSILD-Results-Count`` header; ``options=keyValues`` or ``concise`` for the simpler
    forms; ``Accept: application/geo+json`` for a FeatureCollection."""
    _known_params(request)
    check_csf(request.query_params.get("csf"))
    context = _reader_context(link)
    local = request.query_params.get("local")
    if local not in (None, "true", "false"):
        raise BadRequestData("local is true or false", field="local")
    system = {"createdAt", "modifiedAt", "deletedAt", "id", "type"}
    if attrs and set(_split(attrs) or []) <= system and not (type or id or idPattern or q):
        raise BadRequestData("attrs of system members alone would select every entity",
                             field="attrs")  # fmt: skip
    if q and not (type or id or idPattern or attrs) and \
            not query_language.names(query_language.parse(q)) - system:  # fmt: skip
        raise BadRequestData("q over system members alone would select every entity", field="q")
    if local == "true" and not (type or id or idPattern or attrs or q or georel or scopeQ):
        type = "*"
    return _query(request, session, scope, context, types=_split(type), ids=_split(id),
                  id_pattern=idPattern, attrs=_split(attrs), q=q, scope_q=scopeQ,
                  geo=_geo(georel, geometry, coordinates), geoproperty=geoproperty, limit=limit,
                  offset=offset, count=count, options=options, format_=format,
                  geometry_property=geometryProperty, pick=pick, omit=omit, lang=lang,
                  attrs_given=attrs, order_by=request.query_params.get("orderBy"),
                  order_from=request.query_params.get("orderFrom"),
                  collation=request.query_params.get("collation"),
                  datasets=_split(request.query_params.get("datasetId")))  # fmt: skip


def _query(request: Request, session: Any, scope: Any, context: list[Any], *,
           types: list[str] | None, ids: list[str] | None, id_pattern: str | None,
           attrs: list[str] | None, q: str | None, scope_q: str | None,
           geo: tuple[str, str, str] | None, geoproperty: str, limit: int, offset: int,
           count: bool, options: str | None, format_: str | None,
           geometry_property: str | None, pick: str | None, omit: str | None,
           lang: str | None, attrs_given: str | None, order_by: Any = None,
           order_from: Any = None, collation: Any = None,
           datasets: list[str] | None = None) -> Response:  # fmt: skip
    chosen = _options(options)
    order = None
    if collation is not None:
        ordering.check_collation(collation)
    if order_by is not None:
        keys = ordering.parse(order_by, order_from)
        origin = ordering.point(order_from) if order_from is not None else None
        if not (len(keys) == 1 and keys[0].name == "id" and keys[0].sub is None and
                keys[0].direction == "asc"):  # fmt: skip
            order = ordering.sorter(keys, context, origin, collation)
    mode, depth = _join_mode(request.query_params.get("join"),
                             request.query_params.get("joinLevel"))  # fmt: skip
    if mode is None and any("{" in (p or "") for p in (pick, omit)):
        raise BadRequestData("a projection into linked entities needs join", field="pick")
    picked, omitted = _projection(pick, omit, attrs_given, nested=mode is not None, levels=depth)
    _geometry_property(request, geometry_property)
    for one in ids or []:
        check_id(one)
    found, total = service.query(
        session, context, types=types, ids=ids, id_pattern=id_pattern,
        attrs=attrs, limit=limit, offset=offset, form=_form(chosen, format_),
        sys_attrs="sysAttrs" in chosen, q=q, geoproperty=geoproperty,
        geo=geo, count=count, scope=scope, lang=_lang(lang), scope_q=scope_q, order=order,
        limit_more=limit > 0,
    )  # fmt: skip
    more = len(found) > limit
    found = found[:limit]
    if datasets:
        found = [_of_datasets(e, set(datasets)) for e in found]
    found = [_project(e, picked, omitted) for e in found]
    if mode is not None:
        found = _join(session, scope, context, found, mode, depth, _form(chosen, format_), lang)
    headers = {"NGSILD-Results-Count": str(total)} if count else {}
    pages = _page_links(request, limit, offset, more)
    if pages:
        headers["Link"] = pages
    return _answer(request, found, context, headers=headers,
                   geometry=geometry_property or "location")  # fmt: skip


def _page_links(request: Request, limit: int, offset: int, more: bool) -> str:
    """The ``prev`` and ``next`` pages of a query (NGSI-LD 5.5.9), as Link header values: the
    request's own parameters, sorted, with the other page's offset."""
    if limit <= 0 or request.method != "GET":
        return ""
    accept = request.headers.get("accept", "")
    media = JSON_LD if JSON_LD in accept else "application/json"
    params = {k: v for k, v in request.query_params.items() if k not in ("offset", "limit")}

    def link(start: int, rel: str) -> str:
        query = "&".join(f"{k}={v}" for k, v in sorted({**params, "limit": str(limit),
                                                         "offset": str(start)}.items()))  # fmt: skip
        return f'<{request.url.path.rstrip("/")}?{query}>; rel="{rel}"; type="{media}"'

    found = []
    if offset > 0:
        found.append(link(max(offset - limit, 0), "prev"))
    if more:
        found.append(link(offset + limit, "next"))
    return ", ".join(found)


def _of_datasets(entity: dict[str, Any], datasets: set[str]) -> dict[str, Any]:
    """A rendered entity with only the attribute instances of these datasetIds (``@none``:
    the default instance)."""
    out: dict[str, Any] = {}
    for key, value in entity.items():
        items = value if isinstance(value, list) else [value]
        if key in ("id", "type", "@context", "scope", "createdAt", "modifiedAt") or not all(
                isinstance(i, dict) and "type" in i for i in items):  # fmt: skip
            if isinstance(value, dict) and set(value) == {"dataset"}:  # the simplified form
                kept = {d: v for d, v in value["dataset"].items() if d in datasets}
                if kept:
                    out[key] = {"dataset": kept}
                continue
            out[key] = value
            continue
        kept_items = [i for i in items if i.get("datasetId", "@none") in datasets]
        if kept_items:
            out[key] = kept_items[0] if len(kept_items) == 1 else kept_items
    return out


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
    geometryProperty: str | None = None,
    pick: str | None = None,
    omit: str | None = None,
    lang: str | None = None,
    type: str | None = None,
    join: str | None = None,
    joinLevel: str | None = None,
    link: Annotated[str | None, Header()] = None,
) -> Response:
    _known_params(request)
    context = _reader_context(link)
    chosen = _options(options)
    mode, depth = _join_mode(join, joinLevel)
    if mode is None and any("{" in (p or "") for p in (pick, omit)):
        raise BadRequestData("a projection into linked entities needs join", field="pick")
    picked, omitted = _projection(pick, omit, attrs, nested=mode is not None, levels=depth)
    _geometry_property(request, geometryProperty)
    found = service.retrieve(session, entity_id, context, form=_form(chosen, format),
                             sys_attrs="sysAttrs" in chosen, attrs=_split(attrs),
                             scope=scope, lang=_lang(lang), types=_split(type))  # fmt: skip
    found = _project(found, picked, omitted)
    if picked is not None and not (picked & found.keys()):
        raise ResourceNotFound(f"entity {entity_id} has none of the members picked", field="pick")
    if omitted and not found:
        raise ResourceNotFound(f"everything of entity {entity_id} is omitted", field="omit")
    if mode is not None:
        joined = _join(session, scope, context, [found], mode, depth, _form(chosen, format), lang)
        return _answer(request, joined if mode == "flat" else joined[0], context,
                       geometry=geometryProperty or "location")  # fmt: skip
    return _answer(request, found, context, geometry=geometryProperty or "location")


def _geometry_property(request: Request, given: str | None) -> None:
    if given is not None and GEO_JSON not in request.headers.get("accept", ""):
        raise BadRequestData("geometryProperty is for answers in application/geo+json",
                             field="geometryProperty")  # fmt: skip


@router.delete("/entities/{entity_id}", status_code=204)
def delete_entity(
    request: Request, session: DbSession, principal: Manager, settings: AppSettings,
    entity_id: str, type: str | None = None, link: Annotated[str | None, Header()] = None,
) -> Response:  # fmt: skip
    _known_params(request, {"type", "local"})
    service.delete(session, entity_id, **_as_writer(principal, settings), types=_split(type),
                   context=_reader_context(link))  # fmt: skip
    return Response(status_code=204)


@router.put("/entities/", include_in_schema=False)
@router.patch("/entities/", include_in_schema=False)
def no_entity_id(principal: Manager) -> Response:
    """A change sent to the collection: the id is missing (asked of writers, as any change)."""
    del principal
    raise BadRequestData("the entity's id belongs in the path: /entities/{id}", field="id")


def _partial(not_done: list[dict[str, str]], done: list[str]) -> Response:
    """204 when everything was done, else 207 with what was and what was not."""
    if not not_done:
        return Response(status_code=204)
    return JSONResponse({"updated": done, "notUpdated": not_done}, status_code=207)


@router.post("/entities/{entity_id}/attrs", status_code=204)
async def append_attrs(
    request: Request, session: DbSession, principal: Manager, settings: AppSettings,
    entity_id: str, type: str | None = None, options: str | None = None,
) -> Response:  # fmt: skip
    """Append attributes; ``options=noOverwrite`` keeps those the entity has."""
    body, context = await _body(request)
    service.check_type(session, entity_id, _split(type), context)
    kept = service.append_attrs(session, entity_id, body, context,
                                no_overwrite="noOverwrite" in _options(options),
                                **_as_writer(principal, settings))  # fmt: skip
    names = [k for k in body if k not in ("id", "type", "@context")]
    return _partial(kept, [n for n in names if n not in {k["attributeName"] for k in kept}])


@router.patch("/entities/{entity_id}/attrs", status_code=204)
async def update_attrs(
    request: Request, session: DbSession, principal: Manager, settings: AppSettings,
    entity_id: str, type: str | None = None,
) -> Response:  # fmt: skip
    """Update attributes the entity has; the others are reported (207)."""
    body, context = await _body(request)
    service.check_type(session, entity_id, _split(type), context)
    missing = service.update_attrs(session, entity_id, body, context,
                                   **_as_writer(principal, settings))  # fmt: skip
    names = [k for k in body if k not in ("id", "type", "@context")]
    return _partial(missing, [n for n in names if n not in {m["attributeName"] for m in missing}])


@router.patch("/entities/{entity_id}/attrs/{attr}", status_code=204)
async def patch_attr(
    request: Request, session: DbSession, principal: Manager, settings: AppSettings,
    entity_id: str, attr: str, type: str | None = None,
) -> Response:  # fmt: skip
    """Partial update of one attribute."""
    body, context = await _body(request)
    service.check_type(session, entity_id, _split(type), context)
    service.patch_attr(session, entity_id, attr, body, context, **_as_writer(principal, settings))
    return Response(status_code=204)


@router.delete("/entities/{entity_id}/attrs/{attr}", status_code=204)
def delete_attr(
    request: Request, session: DbSession, principal: Manager, settings: AppSettings,
    entity_id: str, attr: str, datasetId: str | None = None, deleteAll: bool = False,
    type: str | None = None, link: Annotated[str | None, Header()] = None,
) -> Response:  # fmt: skip
    """Delete an attribute's default instance, the one of ``datasetId``, or with
    ``deleteAll=true`` all of them."""
    service.check_type(session, entity_id, _split(type), _reader_context(link))
    _known_params(request)
    if datasetId is not None and not URI_RE.match(datasetId):
        raise BadRequestData("datasetId is a URI", field="datasetId")
    service.delete_attr(session, entity_id, attr, _reader_context(link),
                        **_as_writer(principal, settings), dataset=datasetId,
                        delete_all=deleteAll)  # fmt: skip
    return Response(status_code=204)


@router.put("/entities/{entity_id}", status_code=204)
async def replace_entity(
    request: Request, session: DbSession, principal: Manager, settings: AppSettings,
    entity_id: str,
) -> Response:  # fmt: skip
    body, context = await _body(request)
    service.replace(session, entity_id, body, context, **_as_writer(principal, settings))
    return Response(status_code=204)


@router.patch("/entities/{entity_id}", status_code=204)
async def merge_entity(
    request: Request, session: DbSession, principal: Manager, settings: AppSettings,
    entity_id: str,
) -> Response:  # fmt: skip
    """Merge-patch: attributes added or merged member by member; ``urn:ngsi-ld:null``
    removes one."""
    body, context = await _body(request)
    service.merge(session, entity_id, body, context, **_as_writer(principal, settings))
    return Response(status_code=204)


@router.put("/entities/{entity_id}/attrs/{attr}", status_code=204)
async def replace_attr(
    request: Request, session: DbSession, principal: Manager, settings: AppSettings,
    entity_id: str, attr: str,
) -> Response:  # fmt: skip
    """Replace one attribute whole."""
    body, context = await _body(request)
    service.replace_attr(session, entity_id, attr, body, context,
                         **_as_writer(principal, settings))  # fmt: skip
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


@router.post("/entityOperations/query")
async def query_by_post(
    request: Request, session: DbSession, scope: Scope,
    limit: Annotated[int, Query(ge=0, le=1000)] = 20, offset: Offset = 0, count: bool = False,
    options: str | None = None, format: str | None = None, lang: str | None = None,
) -> Response:  # fmt: skip
    """The entity query with its selection in the body (a ``Query``: ``entities``, ``attrs``,
    ``q``, ``geoQ``, ``scopeQ``, ``pick``, ``omit``, ``lang``)."""
    body, context = await _body(request)
    if isinstance(body, dict) and "@context" in body:
        context = jsonld.context_of(body["@context"])
        jsonld.expand_names(context, set(), set())
    if not isinstance(body, dict) or body.get("type") != "Query":
        raise BadRequestData('the body is a Query: {"type": "Query", …}', field="type")
    known = {"type", "entities", "attrs", "q", "geoQ", "scopeQ", "pick", "omit", "lang",
             "@context", "csf", "temporalQ", "local", "join", "joinLevel", "datasetId",
             "expandValues", "containedBy", "ordering"}  # fmt: skip
    unknown = sorted(set(body) - known)
    if unknown:
        raise BadRequestData(f"a Query has no member {unknown[0]}", field=unknown[0])
    if "temporalQ" in body:
        raise BadRequestData("temporalQ is for the temporal query", field="temporalQ")
    if "joinLevel" in body and (not isinstance(body["joinLevel"], int) or body["joinLevel"] < 1):
        raise BadRequestData("joinLevel is a whole number from 1", field="joinLevel")
    types: list[str] = []
    ids: list[str] = []
    pattern = None
    entities = body.get("entities")
    if entities is not None:
        if not isinstance(entities, list) or not entities:
            raise BadRequestData("entities is a non-empty array of selectors", field="entities")
        for selector in entities:
            if not isinstance(selector, dict) or not isinstance(selector.get("type"), str):
                raise BadRequestData("each entity selector names a type", field="entities")
            types.extend(t for t in re.split(r"[,|]", selector["type"]) if t)
            given = selector.get("id")
            for one in given if isinstance(given, list) else [] if given is None else [given]:
                if not isinstance(one, str):
                    raise BadRequestData("an entity selector's id is a URI or a list of them",
                                         field="entities")  # fmt: skip
                ids.append(check_id(one))
            if given is None and isinstance(selector.get("idPattern"), str):
                pattern = selector["idPattern"]
    attrs = body.get("attrs")
    if attrs is not None and (not isinstance(attrs, list) or not attrs
                              or not all(isinstance(a, str) for a in attrs)):  # fmt: skip
        raise BadRequestData("attrs is a non-empty array of names", field="attrs")
    for member in ("q", "scopeQ", "lang"):
        if member in body and not isinstance(body[member], str):
            raise BadRequestData(f"{member} is a string", field=member)
    geo = None
    geo_q = body.get("geoQ")
    geoproperty = "location"
    if geo_q is not None:
        if not isinstance(geo_q, dict) or not isinstance(geo_q.get("geometry"), str) or \
                not isinstance(geo_q.get("coordinates"), list | str):  # fmt: skip
            raise BadRequestData("geoQ has georel, a geometry name and coordinates",
                                 field="geoQ")  # fmt: skip
        coords = geo_q["coordinates"]
        geo = (str(geo_q.get("georel", "")), geo_q["geometry"],
               coords if isinstance(coords, str) else orjson.dumps(coords).decode())  # fmt: skip
        geoproperty = str(geo_q.get("geoproperty", "location"))

    given = body.get("ordering", {})  # orderBy, coordinates and geometry (its origin), collation
    wanted: dict[str, Any] = given if isinstance(given, dict) else {}
    if not isinstance(given, dict) or set(wanted) - {"orderBy", "coordinates", "geometry",
                                                     "collation"}:  # fmt: skip
        raise BadRequestData("ordering has orderBy, coordinates, geometry and collation",
                             field="ordering")  # fmt: skip
    if "coordinates" in wanted and not isinstance(wanted["coordinates"], list):
        raise BadRequestData("ordering.coordinates is an array", field="ordering")
    if "geometry" in wanted and wanted["geometry"] != "Point":
        raise BadRequestData("ordering.geometry is Point", field="ordering")
    order_by = wanted.get("orderBy")
    if order_by is not None and not isinstance(order_by, list):
        raise BadRequestData("ordering.orderBy is a list of attribute paths", field="ordering")
    given_sets = body.get("datasetId")

    def listed(member: str) -> str | None:
        value = body.get(member)
        if value is None:
            return None
        if isinstance(value, list):
            return ",".join(str(v) for v in value)
        if isinstance(value, str):
            return value
        raise BadRequestData(f"{member} is a list of names", field=member)

    return _query(request, session, scope, context, types=types or None, ids=ids or None,
                  id_pattern=pattern, attrs=attrs, q=body.get("q"), scope_q=body.get("scopeQ"),
                  geo=geo, geoproperty=geoproperty, limit=limit, offset=offset, count=count,
                  options=options, format_=format, geometry_property=None,
                  pick=listed("pick"), omit=listed("omit"), lang=body.get("lang", lang),
                  attrs_given=None if attrs is None else ",".join(attrs), order_by=order_by,
                  order_from=wanted.get("coordinates"), collation=wanted.get("collation"),
                  datasets=[given_sets] if isinstance(given_sets, str) else given_sets)  # fmt: skip


SYSTEM_MEMBERS = {"createdAt", "modifiedAt", "deletedAt", "expiresAt", "id", "type", "scope"}


@router.delete("/entities", status_code=204)
@router.delete("/entities/", status_code=204, include_in_schema=False)
@router.delete("/entityOperations/purge", status_code=204)
def purge(
    request: Request, session: DbSession, principal: Manager, settings: AppSettings,
    type: str | None = None, q: str | None = None, scopeQ: str | None = None,
    id: str | None = None, idPattern: str | None = None, drop: str | None = None,
    keep: str | None = None, attrs: str | None = None, local: bool = False,
    pick: str | None = None, omit: str | None = None,
    link: Annotated[str | None, Header()] = None,
) -> Response:  # fmt: skip
    """Purge: delete the entities matched by type, attributes, ``q`` or ``scopeQ`` (every one
    with ``local=true`` alone) — or with ``drop`` / ``keep`` only some of their attributes —
    of the writer's own unit."""
    _known_params(request, {"type", "q", "scopeQ", "id", "idPattern", "drop", "keep", "local",
                            "attrs", "pick", "omit"})  # fmt: skip
    context = _reader_context(link)
    if (q and "{" in q) or (pick and "{" in pick) or (omit and "{" in omit):
        raise BadRequestData("purge does not follow linked entities", field="q")
    named = _split(attrs)
    if named and set(named) <= SYSTEM_MEMBERS:
        raise BadRequestData("attrs names system members only: that selects every entity",
                             field="attrs")  # fmt: skip
    if q and not query_language.names(query_language.parse(q)) - SYSTEM_MEMBERS:
        raise BadRequestData("q over system members only selects every entity", field="q")
    if not (type or q or scopeQ or named or local):
        raise BadRequestData("purge needs type, attrs, q or scopeQ (or local=true for all)",
                             field="type")  # fmt: skip
    service.purge(session, context, types=_split(type), q=q, scope_q=scopeQ, ids=_split(id),
                  id_pattern=idPattern, drop=_split(drop), keep=_split(keep), attrs=named,
                  everything=local, **_as_writer(principal, settings))  # fmt: skip
    return Response(status_code=204)


@router.post("/entityOperations/{operation}")
async def batch(
    request: Request, session: DbSession, principal: Manager, settings: AppSettings,
    operation: str, options: str | None = None,
) -> Response:  # fmt: skip
    """Batch create, upsert (``options=update`` to merge instead of replace), update, merge or
    delete: each entity on its own (a savepoint each); 201/204 when all succeed, else 207 with
    which did and why the others did not. In ``application/ld+json`` each entity carries its
    own ``@context``."""
    if operation not in ("create", "upsert", "update", "delete", "merge"):
        raise ResourceNotFound(f"no batch operation {operation}", field="operation")
    ld = request.headers.get("content-type", "").split(";")[0].strip().lower() == JSON_LD
    body, context = await _body(request)
    if not isinstance(body, list) or not body or len(body) > 1000:
        raise BadRequestData("a batch is a JSON array of 1 to 1,000", field="body")
    if any(item is None for item in body):
        raise BadRequestData("a batch holds no null", field="body")
    succeeded: list[str] = []
    failed: list[dict[str, Any]] = []
    created = False
    merge = "update" in _options(options)
    writing = _as_writer(principal, settings)
    groups: dict[str, tuple[list[Any], list[Any]]] = {}
    new_ids: list[str] = []
    for item in body:
        own = context
        if ld and operation != "delete":
            try:
                if not isinstance(item, dict) or "@context" not in item:
                    raise BadRequestData("in application/ld+json each entity carries its "
                                         "@context", field="@context")  # fmt: skip
                own = jsonld.context_of(item["@context"])
                jsonld.expand_names(own, set(), set())
            except CitybaseError as exc:
                entity_id = item.get("id") if isinstance(item, dict) else None
                failed.append({"entityId": str(entity_id), "error": _problem(exc)})
                continue
        elif isinstance(item, dict) and "@context" in item:
            failed.append({"entityId": str(item.get("id")), "error": _problem(BadRequestData(
                "application/json takes its @context from a Link header", field="@context"))})  # fmt: skip
            continue
        key = orjson.dumps(own).decode()
        groups.setdefault(key, (own, []))[1].append(item)
    for own, items in groups.values():
        if operation in ("create", "upsert"):
            done, refused, made = service.upsert_many(
                session,
                items,
                own,
                create_only=operation == "create",
                replace_all=not merge,
                writer=writing["writer"],
                new_ids=new_ids,
            )
            succeeded.extend(done)
            created = created or made
            failed.extend({"entityId": str(i), "error": _problem(e)} for i, e in refused)
            continue
        for item in items:
            entity_id = item if operation == "delete" else (item.get("id") if isinstance(item, dict)
                                                             else None)  # fmt: skip
            try:
                with session.begin_nested():
                    if operation in ("update", "merge"):
                        if not isinstance(entity_id, str):
                            raise BadRequestData("each entity needs its id", field="id")
                        if operation == "merge":
                            service.merge(session, entity_id, item, own, **writing)
                        else:  # an append to each entity (noOverwrite keeps what it has)
                            kept = service.append_attrs(
                                session, entity_id, item, own,
                                no_overwrite="noOverwrite" in _options(options), **writing)  # fmt: skip
                            if kept:
                                raise BadRequestData("kept as they were (noOverwrite): " + ", ".join(
                                    m["attributeName"] for m in kept))  # fmt: skip
                    else:
                        if not isinstance(item, str):
                            raise BadRequestData("delete takes an array of entity ids",
                                                 field="body")  # fmt: skip
                        service.delete(session, check_id(item), **writing)
                succeeded.append(str(entity_id))
            except CitybaseError as exc:
                failed.append({"entityId": str(entity_id), "error": _problem(exc)})
    if failed:
        return JSONResponse({"success": succeeded, "errors": failed}, status_code=207)
    if operation == "create":
        return JSONResponse(succeeded, status_code=201)
    if operation == "upsert" and created:
        return JSONResponse(new_ids, status_code=201)
    return Response(status_code=204)


@router.get("/types")
def types(
    request: Request, session: DbSession, scope: Scope, details: bool = False,
    link: Annotated[str | None, Header()] = None,
) -> Response:  # fmt: skip
    """The entity types held (``details=true``: with their attribute names)."""
    _known_params(request, {"details", "local"})
    context = _reader_context(link)
    found = service.types_and_attributes(session, context, scope)
    if details:
        body: Any = [{"id": t, "type": "EntityType", "typeName": t, "attributeNames": a}
                     for t, a in found.items()]  # fmt: skip
    else:
        body = {"id": f"urn:ngsi-ld:EntityTypeList:{uuid.uuid4()}", "type": "EntityTypeList",
                "typeList": list(found)}  # fmt: skip
    return _answer(request, body, context)


@router.get("/types/{type_name:path}")
def type_information(
    request: Request, session: DbSession, scope: Scope, type_name: str,
    link: Annotated[str | None, Header()] = None,
) -> Response:  # fmt: skip
    """One entity type: how many entities have it, and its attributes with their kinds."""
    _known_params(request, {"local"})
    context = _reader_context(link)
    held = service.census(session, context, scope)
    iri = jsonld.expand_names(context, set(), {type_name})[1].get(type_name, type_name)
    compact = jsonld.compact_names(context, set(), {iri})[1].get(iri, iri)
    found = held.get(iri)
    if found is None:
        raise ResourceNotFound(f"no entity of type {type_name}", field="type")
    count, attrs = found
    names = jsonld.compact_names(context, set(attrs), set())[0]
    body = {"id": iri, "type": "EntityTypeInformation", "typeName": compact,
            "entityCount": count,
            "attributeDetails": [{"id": a, "type": "Attribute",
                                  "attributeName": names.get(a, a),
                                  "attributeTypes": sorted(kinds)}
                                 for a, kinds in sorted(attrs.items())]}  # fmt: skip
    return _answer(request, body, context)


@router.get("/attributes")
def attributes(
    request: Request, session: DbSession, scope: Scope, details: bool = False,
    link: Annotated[str | None, Header()] = None,
) -> Response:  # fmt: skip
    """The attribute names held, across all types (``details=true``: with the types)."""
    _known_params(request, {"details", "local"})
    context = _reader_context(link)
    if details:
        return _answer(request, [_attribute_information(i, n, t, c, k, context)
                                 for i, n, t, c, k in _attribute_census(session, context, scope)],
                       context)  # fmt: skip
    found = service.types_and_attributes(session, context, scope)
    names = sorted({a for attrs in found.values() for a in attrs})
    return _answer(request, {"id": f"urn:ngsi-ld:AttributeList:{uuid.uuid4()}",
                             "type": "AttributeList", "attributeList": names}, context)  # fmt: skip


@router.get("/attributes/{attr:path}")
def attribute_information(
    request: Request, session: DbSession, scope: Scope, attr: str,
    link: Annotated[str | None, Header()] = None,
) -> Response:  # fmt: skip
    """One attribute: how many entities hold it, of which types, of which kinds."""
    _known_params(request, {"local"})
    context = _reader_context(link)
    iri = jsonld.expand_names(context, {attr}, set())[0].get(attr, attr)
    for found in _attribute_census(session, context, scope):
        if found[0] == iri:
            body = _attribute_information(*found, context)
            body["attributeCount"] = found[3]
            body["attributeTypes"] = sorted(found[4])
            return _answer(request, body, context)
    raise ResourceNotFound(f"no attribute {attr}", field="attr")


def _attribute_census(session: Any, context: list[Any],
                      scope: Any) -> list[tuple[str, str, list[str], int, set[str]]]:  # fmt: skip
    """Each attribute held: its IRI, its name to the reader, the types holding it, how many
    entities hold it and its kinds."""
    per: dict[str, tuple[set[str], int, set[str]]] = {}
    for type_iri, (_, attrs) in service.census(session, context, scope).items():
        for iri, kinds in attrs.items():
            types_, count, held = per.get(iri, (set(), 0, set()))
            per[iri] = (types_ | {type_iri}, count, held | kinds)
    counts = service.attribute_counts(session, scope)
    names, type_names = jsonld.compact_names(context, set(per),
                                             {t for v in per.values() for t in v[0]})  # fmt: skip
    return [(iri, names.get(iri, iri), sorted(type_names.get(t, t) for t in v[0]),
             counts.get(iri, 0), v[2]) for iri, v in sorted(per.items())]  # fmt: skip


def _attribute_information(iri: str, name: str, type_names: list[str], *_: Any) -> dict[str, Any]:
    return {"id": iri, "type": "Attribute", "attributeName": name, "typeNames": type_names}


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
    _known_params(request)
    context = _reader_context(link)
    found, total = subscriptions.listing(session, context, limit=limit, offset=offset,
                                         unit=subscription_unit(principal))  # fmt: skip
    headers = {"NGSILD-Results-Count": str(total)} if count else {}
    pages = _page_links(request, limit, offset, offset + limit < total)
    if pages:
        headers["Link"] = pages
    return _answer(request, found, context, headers=headers)


def _settled(sub_id: str) -> None:
    """A notification of the subscription under way ends and is written down before the
    request's own transaction begins, so that what is read counts it."""
    notify.settle(sub_id)


@router.get("/subscriptions/{sub_id}")
def retrieve_subscription(
    _: Annotated[None, Depends(_settled)], request: Request, session: DbSession,
    principal: Reader, sub_id: str, link: Annotated[str | None, Header()] = None,
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


def check_csf(csf: str | None) -> None:
    """A context-source filter is written in the query language."""
    if csf is not None:
        try:
            service.parse_q(csf, jsonld.context_of(None))
        except BadRequestData:
            raise BadRequestData("csf is a filter in the query language", field="csf") from None


# the temporal API's routes share this module's request helpers; they are kept in their own
from citybase.perception.context import temporal_routes  # noqa: E402 -- needs the helpers above

router.include_router(temporal_routes.router)
