"""The NGSI-LD temporal API (``/ngsi-ld/v1/temporal/…``): the history of entities' attributes
queried, written, changed and deleted. Its router is included in the core API's (``routes``),
whose request helpers — bodies, contexts, projections, answers — it shares."""

from __future__ import annotations

import re
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import Response

from citybase.core.values import INT64_MAX
from citybase.core.web.deps import AppSettings, DbSession
from citybase.core.web.forms import RawBody
from citybase.core.web.params import Offset
from citybase.perception.context import linked, temporal
from citybase.perception.context import temporal_query as history
from citybase.perception.context.attributes import check_id
from citybase.perception.context.auth import Scope
from citybase.perception.context.service import BadRequestData, InvalidRequest, ResourceNotFound
from citybase.perception.context.wire import (
    _answer,
    _as_writer,
    _body,
    _known_params,
    _options,
    _reader_context,
    _split,
    check_csf,
)
from citybase.perception.devices.auth import Manager

# included in the core API's router, which adds its prefix and its checks of media types
router: APIRouter = APIRouter()


# --- the temporal API ---------------------------------------------------------------------------


def _window(
    timerel: str | None = None,
    timeAt: str | None = None,
    endTimeAt: str | None = None,
    lastN: Annotated[int | None, Query(ge=1, le=INT64_MAX)] = None,
    options: str | None = None,
    aggrMethods: str | None = None,
    aggrPeriodDuration: str | None = None,
    format: str | None = None,
) -> history.Window:
    """The temporal query's time window and form, from its query parameters (``format``, when
    it names a form, before ``options``)."""
    chosen = _options(options)
    if format in ("temporalValues", "aggregatedValues", "simplified", "keyValues"):
        form = "temporalValues" if format in ("simplified", "keyValues") else format
        chosen = (chosen - {"temporalValues", "aggregatedValues"}) | {form}
    return history.window(timerel, timeAt, endTimeAt, lastN, chosen, aggrMethods,
                          aggrPeriodDuration)  # fmt: skip


TemporalWindow = Annotated[history.Window, Depends(_window)]


LINKED_Q = re.compile(r"[\w.\]]\{")  # a linked-entity path in q: a{b}


def _temporal_checks(request: Request, timeproperty: str | None, format_: str | None) -> None:
    _known_params(request)
    check_csf(request.query_params.get("csf"))
    if LINKED_Q.search(request.query_params.get("q") or ""):
        raise BadRequestData("the temporal query does not follow relationships in q", field="q")
    if request.query_params.get("orderBy", "id") not in ("id", "id;asc", "id;desc"):
        raise BadRequestData("the temporal API orders by id only", field="orderBy")
    methods = request.query_params.get("aggrMethods")
    if methods is not None and not {m.strip() for m in methods.split(",")} <= set(
            history.AGGREGATES):  # fmt: skip
        raise BadRequestData("aggrMethods is one or more of " + ", ".join(history.AGGREGATES),
                             field="aggrMethods")  # fmt: skip
    period = request.query_params.get("aggrPeriodDuration")
    if period is not None:
        history.check_duration(period)
    if timeproperty is not None and timeproperty not in ("observedAt", "createdAt", "modifiedAt",
                                                         "deletedAt"):  # fmt: skip
        raise BadRequestData("timeproperty is observedAt, createdAt, modifiedAt or deletedAt",
                             field="timeproperty")  # fmt: skip
    if format_ is not None and format_ not in ("normalized", "temporalValues", "aggregatedValues",
                                               "simplified", "keyValues", "concise"):  # fmt: skip
        raise InvalidRequest("format is normalized, temporalValues or aggregatedValues",
                             field="format")  # fmt: skip
    for name in ("timeAt", "endTimeAt"):
        given = request.query_params.get(name)
        if given is not None and "T" not in given:
            raise BadRequestData(f"{name} is a date-time, not a date", field=name)


@router.get("/temporal/entities")
@router.get("/temporal/entities/", include_in_schema=False)
def temporal_query(
    request: Request,
    session: DbSession,
    scope: Scope,
    settings: AppSettings,
    win: TemporalWindow,
    type: str | None = None,
    id: str | None = None,
    idPattern: str | None = None,
    attrs: str | None = None,
    q: str | None = None,
    limit: Annotated[int, Query(ge=0, le=1000)] = 20,
    offset: Offset = 0,
    count: bool = False,
    pick: str | None = None,
    omit: str | None = None,
    timeproperty: str | None = None,
    format: str | None = None,
    datasetId: str | None = None,
    scopeQ: str | None = None,
    georel: str | None = None,
    geometry: str | None = None,
    coordinates: str | None = None,
    geoproperty: str | None = None,
    link: Annotated[str | None, Header()] = None,
) -> Response:
    """Entities' histories: by type, id, id pattern and attributes; ``timerel`` before, after or
    between ``timeAt`` (and ``endTimeAt``); ``lastN``; ``q`` on the instances in the window;
    ``options=temporalValues`` or ``aggregatedValues`` with ``aggrMethods`` and
    ``aggrPeriodDuration``."""
    _temporal_checks(request, timeproperty, format)
    context = _reader_context(link)
    if request.query_params.get("local") == "true" and not (type or attrs or q or id):
        type = "*"
    if not (type or attrs or q):
        raise BadRequestData("give type, attrs or q", field="type")
    if attrs and set(_split(attrs) or []) <= {"createdAt", "modifiedAt", "deletedAt"} and \
            not type:  # fmt: skip
        raise BadRequestData("attrs of system members alone would select every entity",
                             field="attrs")  # fmt: skip
    for one in _split(id) or []:
        check_id(one)
    wanted = linked.projection(pick, omit, attrs if (pick or omit) else None)
    geo = None
    if georel or geometry or coordinates:
        if not (georel and geometry and coordinates):
            raise BadRequestData("a geo-query needs georel, geometry and coordinates",
                                 field="georel")  # fmt: skip
        geo = (georel, geometry, coordinates, geoproperty or "location")
    found, total, cut = history.query(
        session, context, win, types=_split(type), ids=_split(id), id_pattern=idPattern,
        attrs=_split(attrs), datasets=_split(datasetId), limit=limit, offset=offset, scope=scope,
        q=q, scope_q=scopeQ, geo=geo, descending=request.query_params.get("orderBy") == "id;desc",
        most=settings.perception.temporal_limit)  # fmt: skip
    headers = {"NGSILD-Results-Count": str(total)} if count else {}
    return _temporal_answer(request, [wanted.apply(e) for e in found], context,
                            headers, cut)  # fmt: skip


def _geo_of(given: Any) -> tuple[str, str, str, str] | None:
    """A Query's ``geoQ`` as the temporal query takes it."""
    if given is None:
        return None
    if not isinstance(given, dict) or not all(k in given for k in ("georel", "geometry",
                                                                   "coordinates")):  # fmt: skip
        raise BadRequestData("geoQ has georel, geometry and coordinates", field="geoQ")
    coordinates = given["coordinates"]
    return (str(given["georel"]), str(given["geometry"]),
            coordinates if isinstance(coordinates, str) else orjson.dumps(coordinates).decode(),
            str(given.get("geoproperty") or "location"))  # fmt: skip


def _temporal_answer(request: Request, body: Any, context: list[Any], headers: dict[str, str],
                     cut: history.Range | None) -> Response:  # fmt: skip
    """A temporal answer: 206 with its Content-Range when the broker's page of instances cut
    it short."""
    if cut is None:
        return _answer(request, body, context, headers=headers)
    return _answer(request, body, context, status=206,
                   headers={**headers, "Content-Range": cut.header})  # fmt: skip


@router.post("/temporal/entityOperations/query")
def temporal_query_by_post(
    request: Request, session: DbSession, scope: Scope, settings: AppSettings, raw: RawBody,
    limit: Annotated[int, Query(ge=0, le=1000)] = 20, offset: Offset = 0, count: bool = False,
    options: str | None = None,
) -> Response:  # fmt: skip
    """The temporal query with its selection in the body (a ``Query`` with ``temporalQ``)."""
    body, context = _body(request, raw)
    if not isinstance(body, dict) or body.get("type") != "Query":
        raise BadRequestData('the body is a Query: {"type": "Query", …}', field="type")
    window = body.get("temporalQ") or {}
    if not isinstance(window, dict):
        raise BadRequestData("temporalQ is an object", field="temporalQ")
    last_n = window.get("lastN")
    if last_n is not None and (not isinstance(last_n, int) or isinstance(last_n, bool)):
        raise BadRequestData("lastN is a whole number", field="lastN")
    given = body.get("aggrParams")
    aggr: dict[str, Any] = given if isinstance(given, dict) else {}
    methods = window.get("aggrMethods", aggr.get("aggrMethods"))
    if isinstance(methods, list):
        methods = ",".join(str(m) for m in methods)
    period = window.get("aggrPeriodDuration", aggr.get("aggrPeriodDuration"))
    chosen = _options(options)
    if methods is not None and "temporalValues" not in chosen:  # aggregation asked in the body
        chosen.add("aggregatedValues")
    for name in ("timeAt", "endTimeAt"):
        if name in window and "T" not in str(window[name]):
            raise BadRequestData(f"{name} is a date-time, not a date", field=name)
    if window.get("timeproperty", "observedAt") not in ("observedAt", "createdAt", "modifiedAt",
                                                        "deletedAt"):  # fmt: skip
        raise BadRequestData("timeproperty is observedAt, createdAt, modifiedAt or deletedAt",
                             field="timeproperty")  # fmt: skip
    if period is not None:
        history.check_duration(str(period))
    win = history.window(window.get("timerel"), window.get("timeAt"), window.get("endTimeAt"),
                         last_n, chosen, methods, period)  # fmt: skip
    types: list[str] = []
    ids: list[str] = []
    pattern = None
    for selector in body.get("entities") or []:
        if not isinstance(selector, dict) or not isinstance(selector.get("type"), str):
            raise BadRequestData("each entity selector names a type", field="entities")
        types.extend(t for t in re.split(r"[,|]", selector["type"]) if t)
        given = selector.get("id")
        ids.extend(check_id(i) for i in (given if isinstance(given, list) else
                                         [] if given is None else [given]))  # fmt: skip
        pattern = selector.get("idPattern") or pattern
    attrs = body.get("attrs")
    if attrs is not None and not isinstance(attrs, list):
        raise BadRequestData("attrs is an array of names", field="attrs")
    if not (types or attrs or body.get("q")):
        raise BadRequestData("give entities with a type, attrs or q", field="entities")
    datasets = body.get("datasetId")
    found, total, cut = history.query(
        session, context, win, types=types or None, ids=ids or None, id_pattern=pattern,
        attrs=attrs, datasets=[datasets] if isinstance(datasets, str) else datasets or None,
        limit=limit, offset=offset, scope=scope, q=body.get("q"), scope_q=body.get("scopeQ"),
        geo=_geo_of(body.get("geoQ")),
        most=settings.perception.temporal_limit)  # fmt: skip
    headers = {"NGSILD-Results-Count": str(total)} if count else {}
    return _temporal_answer(request, found, context, headers, cut)


@router.get("/temporal/entities/{entity_id}")
def temporal_retrieve(
    request: Request,
    session: DbSession,
    scope: Scope,
    settings: AppSettings,
    entity_id: str,
    win: TemporalWindow,
    attrs: str | None = None,
    pick: str | None = None,
    omit: str | None = None,
    timeproperty: str | None = None,
    format: str | None = None,
    datasetId: str | None = None,
    link: Annotated[str | None, Header()] = None,
) -> Response:
    _temporal_checks(request, timeproperty, format)
    check_id(entity_id)
    context = _reader_context(link)
    wanted = linked.projection(pick, omit, attrs if (pick or omit) else None)
    found, cut = history.retrieve(session, entity_id, context, win, attrs=_split(attrs),
                                  scope=scope, datasets=_split(datasetId),
                                  most=settings.perception.temporal_limit)  # fmt: skip
    shown = wanted.apply(found)
    if (pick or omit) and not shown:
        raise ResourceNotFound(f"pick and omit leave nothing of {entity_id}", field="pick")
    return _temporal_answer(request, shown, context, {}, cut)


@router.post("/temporal/entities", status_code=201)
@router.post("/temporal/entities/", status_code=201, include_in_schema=False)
def temporal_create(
    request: Request, session: DbSession, principal: Manager, settings: AppSettings, raw: RawBody,
) -> Response:  # fmt: skip
    """Add a temporal representation's instances: 201 for an entity with no history yet, 204
    when it adds to one (of the writer's own unit's entities only)."""
    body, context = _body(request, raw)
    if temporal.add(session, body, context, **_as_writer(principal, settings)):
        return Response(status_code=201,
                        headers={"Location": f"/ngsi-ld/v1/temporal/entities/{body['id']}"})  # fmt: skip
    return Response(status_code=204)


@router.post("/temporal/entities/{entity_id}/attrs", status_code=204)
def temporal_add(
    request: Request, session: DbSession, principal: Manager, settings: AppSettings,
    entity_id: str, raw: RawBody,
) -> Response:  # fmt: skip
    body, context = _body(request, raw)
    temporal.add(session, body, context, entity_id=entity_id, existing=True,
                 **_as_writer(principal, settings))  # fmt: skip
    return Response(status_code=204)


@router.delete("/temporal/entities/{entity_id}", status_code=204)
def temporal_delete(
    session: DbSession, principal: Manager, settings: AppSettings, entity_id: str
) -> Response:
    temporal.remove(session, entity_id, **_as_writer(principal, settings))
    return Response(status_code=204)


@router.patch("/temporal/entities/{entity_id}/attrs/{attr}/{instance_id}", status_code=204)
def temporal_modify_instance(
    request: Request, session: DbSession, principal: Manager, settings: AppSettings,
    entity_id: str, attr: str, instance_id: str, raw: RawBody,
) -> Response:  # fmt: skip
    """Change one instance of an attribute's history (its value, unitCode, sub-attributes)."""
    body, context = _body(request, raw)
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
