"""NGSI-LD entities (ETSI GS CIM 009, 5.6 and 5.7): created, queried, retrieved, replaced,
merged and deleted, and their attributes appended, updated, replaced and deleted."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse, Response

from citybase.core.settings import Settings
from citybase.core.web.deps import AppSettings, DbSession
from citybase.core.web.forms import RawBody
from citybase.core.web.params import Offset
from citybase.perception.context import federation, linked, ordering, service, updates
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
def create_entity(
    request: Request, session: DbSession, principal: Manager, raw: RawBody
) -> Response:
    """Create an entity (normalized form); it belongs to the creator's unit (a registered
    device's entity to the device's unit)."""
    body, context = _body(request, raw)
    entity_id = service.create(session, body, context, writer=writer_of(principal))
    return Response(status_code=201, headers={"Location": f"/ngsi-ld/v1/entities/{entity_id}"})


@router.get("/entities")
@router.get("/entities/", include_in_schema=False)
def query_entities(
    request: Request,
    session: DbSession,
    scope: Scope,
    settings: AppSettings,
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
    distributed = local != "true" and not federation.passed_here(
        request.headers.get("via"), federation.broker_name(settings))  # fmt: skip
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
                  join_level=request.query_params.get("joinLevel"),
                  settings=settings if distributed else None)  # fmt: skip


def _query(request: Request, session: Any, scope: Any, context: list[Any], *,
           types: list[str] | None, ids: list[str] | None, id_pattern: str | None,
           attrs: list[str] | None, q: str | None, scope_q: str | None,
           geo: tuple[str, str, str] | None, geoproperty: str, limit: int, offset: int,
           count: bool, options: str | None, format_: str | None,
           geometry_property: str | None, pick: str | None, omit: str | None,
           lang: str | None, attrs_given: str | None, order_by: Any = None,
           order_from: Any = None, collation: Any = None,
           datasets: list[str] | None = None, join: str | None = None,
           join_level: Any = None, settings: Settings | None = None) -> Response:  # fmt: skip
    """The entities matched here and, with ``settings`` (a distributed query), by the context
    sources registered for them."""
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
    asked = [] if settings is None else federation.sources(
        session, "queryEntity", context, types=types, ids=ids, attrs=attrs)  # fmt: skip
    # with sources, this store's entities up to the end of the page: the page is cut after
    # merging
    start, size = (0, offset + limit) if asked else (offset, limit)
    found, total = service.query(
        session, context, types=types, ids=ids, id_pattern=id_pattern,
        attrs=attrs, limit=size, offset=start, form=_form(chosen, format_),
        sys_attrs="sysAttrs" in chosen, q=q, geoproperty=geoproperty,
        geo=geo, count=count or bool(asked), scope=scope, lang=_lang(lang), scope_q=scope_q,
        order=order, limit_more=size > 0,
    )  # fmt: skip
    more = len(found) > size
    found = found[:size]
    if datasets:
        found = [_of_datasets(e, set(datasets)) for e in found]
    ids = [e["id"] for e in found]
    found = [shown.apply(e) for e in found]
    if mode is not None:
        found = linked.join(session, scope, context, found, ids, mode, depth,
                            _form(chosen, format_), lang, sys_attrs="sysAttrs" in chosen,
                            shown=shown)  # fmt: skip
    headers: dict[str, str] = {}
    if asked and settings is not None:
        answers = federation.visible(federation.gather(
            asked, "/ngsi-ld/v1/entities",
            federation.query_params(request.query_params.multi_items(), offset, limit),
            request.headers, settings), scope, context)  # fmt: skip
        local = found
        found = federation.merge(local, answers)
        if order is None:
            found.sort(key=lambda e: e["id"])
        total = federation.count(total, local, answers)
        more = more or len(found) > offset + limit or any(
            a.count is not None and a.count >= offset + limit for a in answers)  # fmt: skip
        found = found[offset : offset + limit]
        headers.update(federation.warnings(answers))
    if count:
        headers["NGSILD-Results-Count"] = str(total)
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
    settings: AppSettings,
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
    local = request.query_params.get("local")
    if local not in (None, "true", "false"):
        raise BadRequestData("local is true or false", field="local")
    asked = [] if local == "true" or federation.passed_here(
        request.headers.get("via"), federation.broker_name(settings)) else federation.sources(
        session, "retrieveEntity", context, types=_split(type), ids=[entity_id],
        attrs=_split(attrs))  # fmt: skip
    missing: ResourceNotFound | None = None
    try:
        found = service.retrieve(session, entity_id, context, form=_form(chosen, format),
                                 sys_attrs="sysAttrs" in chosen, attrs=_split(attrs),
                                 scope=scope, lang=_lang(lang), types=_split(type))  # fmt: skip
        found = shown.apply(found)
        if shown.picked is not None and not (shown.picked & found.keys()):
            raise ResourceNotFound(f"entity {entity_id} has none of the members picked",
                                   field="pick")  # fmt: skip
        if shown.omitted and not found:
            raise ResourceNotFound(f"everything of entity {entity_id} is omitted", field="omit")
    except ResourceNotFound as exc:
        if not asked:
            raise
        missing, found = exc, {}
    if asked:
        answers = federation.visible(federation.gather(
            asked, federation.entity_path(entity_id), request.query_params.multi_items(),
            request.headers, settings), scope, context)  # fmt: skip
        warned = federation.warnings(answers)
        if any(a.entities for a in answers) or missing is not None:
            # linked entities are joined from this store's entities alone (not from sources)
            merged = federation.merge([found] if found else [], answers)
            if not merged:
                raise missing or ResourceNotFound(f"no entity {entity_id}", field="id")
            return _answer(request, merged[0], context, headers=warned,
                           geometry=geometryProperty or "location")  # fmt: skip
    else:
        warned = {}
    if mode is not None:
        joined = linked.join(session, scope, context, [found], [entity_id], mode, depth,
                             _form(chosen, format), lang, sys_attrs="sysAttrs" in chosen,
                             shown=shown)  # fmt: skip
        return _answer(request, joined if mode == "flat" else joined[0], context,
                       headers=warned, geometry=geometryProperty or "location")  # fmt: skip
    return _answer(request, found, context, headers=warned,
                   geometry=geometryProperty or "location")  # fmt: skip


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
def append_attrs(
    request: Request, session: DbSession, principal: Manager, settings: AppSettings,
    entity_id: str, raw: RawBody, type: str | None = None, options: str | None = None,
) -> Response:  # fmt: skip
    """Append attributes; ``options=noOverwrite`` keeps those the entity has."""
    body, context = _body(request, raw)
    service.check_type(session, entity_id, _split(type), context)
    kept = updates.append_attrs(session, entity_id, body, context,
                                no_overwrite="noOverwrite" in _options(options),
                                **_as_writer(principal, settings))  # fmt: skip
    names = [k for k in body if k not in ("id", "type", "@context")]
    return _partial(kept, [n for n in names if n not in {k["attributeName"] for k in kept}])


@router.patch("/entities/{entity_id}/attrs", status_code=204)
def update_attrs(
    request: Request, session: DbSession, principal: Manager, settings: AppSettings,
    entity_id: str, raw: RawBody, type: str | None = None,
) -> Response:  # fmt: skip
    """Update attributes the entity has; the others are reported (207)."""
    body, context = _body(request, raw)
    service.check_type(session, entity_id, _split(type), context)
    missing = updates.update_attrs(session, entity_id, body, context,
                                   **_as_writer(principal, settings))  # fmt: skip
    names = [k for k in body if k not in ("id", "type", "@context")]
    return _partial(missing, [n for n in names if n not in {m["attributeName"] for m in missing}])


@router.patch("/entities/{entity_id}/attrs/{attr}", status_code=204)
def patch_attr(
    request: Request, session: DbSession, principal: Manager, settings: AppSettings,
    entity_id: str, attr: str, raw: RawBody, type: str | None = None,
) -> Response:  # fmt: skip
    """Partial update of one attribute."""
    body, context = _body(request, raw)
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
def replace_entity(
    request: Request, session: DbSession, principal: Manager, settings: AppSettings,
    entity_id: str, raw: RawBody,
) -> Response:  # fmt: skip
    body, context = _body(request, raw)
    updates.replace(session, entity_id, body, context, **_as_writer(principal, settings))
    return Response(status_code=204)


@router.patch("/entities/{entity_id}", status_code=204)
def merge_entity(
    request: Request, session: DbSession, principal: Manager, settings: AppSettings,
    entity_id: str, raw: RawBody,
) -> Response:  # fmt: skip
    """Merge-patch: attributes added or merged member by member; ``urn:ngsi-ld:null``
    removes one."""
    body, context = _body(request, raw)
    updates.merge(session, entity_id, body, context, **_as_writer(principal, settings))
    return Response(status_code=204)


@router.put("/entities/{entity_id}/attrs/{attr}", status_code=204)
def replace_attr(
    request: Request, session: DbSession, principal: Manager, settings: AppSettings,
    entity_id: str, attr: str, raw: RawBody,
) -> Response:  # fmt: skip
    """Replace one attribute whole."""
    body, context = _body(request, raw)
    updates.replace_attr(session, entity_id, attr, body, context,
                         **_as_writer(principal, settings))  # fmt: skip
    return Response(status_code=204)
