"""NGSI-LD batch operations (ETSI GS CIM 009, 5.6.7 to 5.6.10), the query by POST and purge."""

from __future__ import annotations

import re
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse, Response

from citybase.core.errors import CitybaseError
from citybase.core.web.deps import AppSettings, DbSession
from citybase.core.web.errors import NGSI_LD_ERRORS
from citybase.core.web.forms import RawBody
from citybase.core.web.params import Offset
from citybase.perception.context import batch as batches
from citybase.perception.context import jsonld, service, updates
from citybase.perception.context import query as query_language
from citybase.perception.context.attributes import check_id
from citybase.perception.context.auth import (
    Scope,
)
from citybase.perception.context.entity_routes import _query
from citybase.perception.context.service import BadRequestData, ResourceNotFound
from citybase.perception.context.wire import (
    JSON_LD,
    _as_writer,
    _body,
    _known_params,
    _options,
    _reader_context,
    _split,
)
from citybase.perception.devices.auth import Manager

router: APIRouter = APIRouter()


def _problem(exc: CitybaseError) -> dict[str, Any]:
    kind = exc.code if exc.code in NGSI_LD_ERRORS else "BadRequestData"
    return {"type": f"https://uri.etsi.org/ngsi-ld/errors/{kind}", "title": kind,
            "detail": exc.message, "status": exc.status_code}  # fmt: skip


@router.post("/entityOperations/query")
def query_by_post(
    request: Request, session: DbSession, scope: Scope, raw: RawBody,
    limit: Annotated[int, Query(ge=0, le=1000)] = 20, offset: Offset = 0, count: bool = False,
    options: str | None = None, format: str | None = None, lang: str | None = None,
) -> Response:  # fmt: skip
    """The entity query with its selection in the body (a ``Query``: ``entities``, ``attrs``,
    ``q``, ``geoQ``, ``scopeQ``, ``pick``, ``omit``, ``lang``)."""
    body, context = _body(request, raw)
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
                  datasets=[given_sets] if isinstance(given_sets, str) else given_sets,
                  join=body.get("join", request.query_params.get("join")),
                  join_level=body.get("joinLevel", request.query_params.get("joinLevel")))  # fmt: skip


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
    for name, given in (("q", q), ("attrs", attrs), ("pick", pick), ("omit", omit)):
        if given and "{" in given:
            raise BadRequestData("purge does not follow linked entities", field=name)
    named = _split(attrs)
    if named and set(named) <= SYSTEM_MEMBERS:
        raise BadRequestData("attrs names system members only: that selects every entity",
                             field="attrs")  # fmt: skip
    if q and not query_language.names(query_language.parse(q)) - SYSTEM_MEMBERS:
        raise BadRequestData("q over system members only selects every entity", field="q")
    if not (type or q or scopeQ or named or local):
        raise BadRequestData("purge needs type, attrs, q or scopeQ (or local=true for all)",
                             field="type")  # fmt: skip
    batches.purge(session, context, types=_split(type), q=q, scope_q=scopeQ, ids=_split(id),
                  id_pattern=idPattern, drop=_split(drop), keep=_split(keep), attrs=named,
                  everything=local, **_as_writer(principal, settings))  # fmt: skip
    return Response(status_code=204)


@router.post("/entityOperations/{operation}")
def batch(
    request: Request, session: DbSession, principal: Manager, settings: AppSettings,
    operation: str, raw: RawBody, options: str | None = None,
) -> Response:  # fmt: skip
    """Batch create, upsert (``options=update`` to merge instead of replace), update, merge or
    delete: each entity on its own (a savepoint each); 201/204 when all succeed, else 207 with
    which did and why the others did not. In ``application/ld+json`` each entity carries its
    own ``@context``."""
    if operation not in ("create", "upsert", "update", "delete", "merge"):
        raise ResourceNotFound(f"no batch operation {operation}", field="operation")
    ld = request.headers.get("content-type", "").split(";")[0].strip().lower() == JSON_LD
    body, context = _body(request, raw)
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
            done, refused, made = batches.upsert_many(
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
                            updates.merge(session, entity_id, item, own, **writing)
                        else:  # an append to each entity (noOverwrite keeps what it has)
                            kept = updates.append_attrs(
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
