"""NGSI-LD entities (ETSI GS CIM 009, 5.6 and 5.7): created, queried, retrieved, replaced,
merged and deleted, and their attributes appended, updated, replaced and deleted."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse, Response

from citybase.core.web.deps import AppSettings, DbSession
from citybase.core.web.params import Offset
from citybase.perception.context import linked, ordering, service, updates
from citybase.perception.context import query as query_language
from citybase.perception.context.attributes import URI as URI_RE
from citybase.perception.context.attributes import check_id
from citybase.perception.context.auth import (
    Scope,
    writer_of,
)
from citybase.perception.context.service import BadRequestData, ResourceNotFound
from citybase.perception.context.wire import (
    GEO_JSON,
    _answer,
    _as_writer,
    _body,
    _form,
    _known_params,
    _lang,
    _options,
    _page_links,
    _reader_context,
    _split,
    check_csf,
)
from citybase.perception.devices.auth import Manager

router: APIRouter = APIRouter()


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
    if type == "*" and local == "false":  # every type is asked of this broker alone (4.17)
        raise BadRequestData("type=* asks for every type held here: local may not be false",
                             field="local")  # fmt: skip
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
                  datasets=_split(request.query_params.get("datasetId")),
                  join=request.query_params.get("join"),
                  join_level=request.query_params.get("joinLevel"))  # fmt: skip


def _query(request: Request, session: Any, scope: Any, context: list[Any], *,
           types: list[str] | None, ids: list[str] | None, id_pattern: str | None,
           attrs: list[str] | None, q: str | None, scope_q: str | None,
           geo: tuple[str, str, str] | None, geoproperty: str, limit: int, offset: int,
           count: bool, options: str | None, format_: str | None,
           geometry_property: str | None, pick: str | None, omit: str | None,
           lang: str | None, attrs_given: str | None, order_by: Any = None,
           order_from: Any = None, collation: Any = None,
           datasets: list[str] | None = None, join: str | None = None,
           join_level: Any = None) -> Response:  # fmt: skip
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
    mode, depth = linked.join_mode(join, join_level)
    shown = linked.projection(pick, omit, attrs_given, joined=mode is not None, levels=depth)
    deep = query_language.depth(query_language.parse(q)) if q else 0
    if deep and mode is None:  # a linked path without linked entities is too deep (5.7.2.4)
        raise BadRequestData("q follows Relationships into linked entities: give join",
                             field="q")  # fmt: skip
    if deep > depth:
        raise BadRequestData("q goes deeper into linked entities than joinLevel", field="q")
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
    ids = [e["id"] for e in found]
    found = [shown.apply(e) for e in found]
    if mode is not None:
        found = linked.join(session, scope, context, found, ids, mode, depth,
                            _form(chosen, format_), lang, sys_attrs="sysAttrs" in chosen,
                            shown=shown)  # fmt: skip
    headers = {"NGSILD-Results-Count": str(total)} if count else {}
    pages = _page_links(request, limit, offset, more)
    if pages:
        headers["Link"] = pages
    return _answer(request, found, context, headers=headers,
                   geometry=geometry_property or "location")  # fmt: skip


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
    mode, depth = linked.join_mode(join, joinLevel)
    shown = linked.projection(pick, omit, attrs, joined=mode is not None, levels=depth)
    _geometry_property(request, geometryProperty)
    found = service.retrieve(session, entity_id, context, form=_form(chosen, format),
                             sys_attrs="sysAttrs" in chosen, attrs=_split(attrs),
                             scope=scope, lang=_lang(lang), types=_split(type))  # fmt: skip
    found = shown.apply(found)
    if shown.picked is not None and not (shown.picked & found.keys()):
        raise ResourceNotFound(f"entity {entity_id} has none of the members picked", field="pick")
    if shown.omitted and not found:
        raise ResourceNotFound(f"everything of entity {entity_id} is omitted", field="omit")
    if mode is not None:
        joined = linked.join(session, scope, context, [found], [entity_id], mode, depth,
                             _form(chosen, format), lang, sys_attrs="sysAttrs" in chosen,
                             shown=shown)  # fmt: skip
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
    kept = updates.append_attrs(session, entity_id, body, context,
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
    missing = updates.update_attrs(session, entity_id, body, context,
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
    updates.patch_attr(session, entity_id, attr, body, context, **_as_writer(principal, settings))
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
    updates.delete_attr(session, entity_id, attr, _reader_context(link),
                        **_as_writer(principal, settings), dataset=datasetId,
                        delete_all=deleteAll)  # fmt: skip
    return Response(status_code=204)


@router.put("/entities/{entity_id}", status_code=204)
async def replace_entity(
    request: Request, session: DbSession, principal: Manager, settings: AppSettings,
    entity_id: str,
) -> Response:  # fmt: skip
    body, context = await _body(request)
    updates.replace(session, entity_id, body, context, **_as_writer(principal, settings))
    return Response(status_code=204)


@router.patch("/entities/{entity_id}", status_code=204)
async def merge_entity(
    request: Request, session: DbSession, principal: Manager, settings: AppSettings,
    entity_id: str,
) -> Response:  # fmt: skip
    """Merge-patch: attributes added or merged member by member; ``urn:ngsi-ld:null``
    removes one."""
    body, context = await _body(request)
    updates.merge(session, entity_id, body, context, **_as_writer(principal, settings))
    return Response(status_code=204)


@router.put("/entities/{entity_id}/attrs/{attr}", status_code=204)
async def replace_attr(
    request: Request, session: DbSession, principal: Manager, settings: AppSettings,
    entity_id: str, attr: str,
) -> Response:  # fmt: skip
    """Replace one attribute whole."""
    body, context = await _body(request)
    updates.replace_attr(session, entity_id, attr, body, context,
                         **_as_writer(principal, settings))  # fmt: skip
    return Response(status_code=204)
