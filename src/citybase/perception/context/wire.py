"""How the NGSI-LD API reads requests and writes answers: media types, the reader's ``@context``,
parameters, options and formats, pages (projections and linked entities: ``linked``)."""

from __future__ import annotations

import re
from typing import Any

import orjson
from fastapi import Request
from fastapi.responses import JSONResponse, Response

from citybase.core.errors import CitybaseError
from citybase.core.identity.schemas import Principal
from citybase.core.settings import Settings
from citybase.perception.context import jsonld, service, versions
from citybase.perception.context.auth import (
    public_types,
    scope_for,
    writer_of,
)
from citybase.perception.context.errors import NoMultiTenantSupport
from citybase.perception.context.service import BadRequestData, InvalidRequest

JSON_LD = "application/ld+json"
GEO_JSON = "application/geo+json"
MERGE_PATCH = "application/merge-patch+json"
ANSWERABLE = {"application/json", JSON_LD, GEO_JSON, "*/*", "application/*"}
# GeoJSON answers entities retrieved or queried, nothing else (6.3.4, 6.3.15)
GEO_ANSWERS = re.compile(r"/ngsi-ld/v1/(entities(/[^/]+)?|entityOperations/query)/?$")


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
        if not kinds & (ANSWERABLE if GEO_ANSWERS.search(request.url.path)
                        else ANSWERABLE - {GEO_JSON}):  # fmt: skip
            raise NotAcceptable("answers are application/json, application/ld+json or "
                                "application/geo+json", field="Accept")  # fmt: skip
    if request.method in ("POST", "PATCH", "PUT"):
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        allowed = ("application/json", JSON_LD, MERGE_PATCH) if request.method == "PATCH" \
            else ("application/json", JSON_LD)  # fmt: skip
        if kind not in allowed and (kind or request.headers.get("content-length", "0") != "0"):
            raise UnsupportedMediaType(f"send {' or '.join(allowed)}", field="Content-Type")


def _tenant(request: Request) -> None:
    """A request naming a tenant (``NGSILD-Tenant``) is refused with NoMultiTenantSupport
    (GS CIM 009, 5.5.10 and 6.3.14): this store holds the default tenant only, and another
    tenant's data must neither be mixed into it nor read from it."""
    if request.headers.get("ngsild-tenant", "").strip():
        raise NoMultiTenantSupport("this broker holds the default tenant only: send no "
                                   "NGSILD-Tenant header", field="NGSILD-Tenant")  # fmt: skip


# the answers that carry Entity data, which a version preference may amend
ENTITY_DATA = re.compile(r"/(entities|entityOperations/query)(/|$)")
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
    version = versions.preferred(request.headers.get("prefer"))
    if version is not None:  # 4.3.6.8: Entity data amended for an earlier reader, with 203
        headers["Preference-Applied"] = f"ngsi-ld={version}"
        if ENTITY_DATA.search(request.url.path):
            body, amended = versions.amend(body, version)
            if amended and status == 200:
                status = 203
    user = [c for c in context if c != jsonld.CORE_URL]
    accept = request.headers.get("accept", "")
    ctx: Any = user[0] if len(user) == 1 else (context if user else jsonld.CORE_URL)
    if GEO_JSON in accept and JSON_LD not in accept and GEO_ANSWERS.search(request.url.path):
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


def _body(request: Request, raw: bytes) -> tuple[Any, list[Any]]:
    """The JSON body (``raw``, a route's ``RawBody``) and its ``@context``, as the request's
    type says; refused when it is in no type read here or is not JSON."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind not in ("application/json", JSON_LD, MERGE_PATCH):
        raise UnsupportedMediaType("send application/json or application/ld+json",
                                   field="Content-Type")  # fmt: skip
    _known_params(request)
    try:
        body = orjson.loads(raw)
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


def _lang(lang: str | None) -> str | None:
    if lang is not None and not re.fullmatch(r"\s*(\*|[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*)"
                                             r"(\s*;\s*q=[01](\.\d{0,3})?)?\s*"
                                             r"(,\s*(\*|[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*)"
                                             r"(\s*;\s*q=[01](\.\d{0,3})?)?\s*)*", lang):  # fmt: skip
        raise BadRequestData(f"lang {lang!r} is not a language range", field="lang")
    return lang


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


def _split(value: str | None) -> list[str] | None:
    items = [v.strip() for v in (value or "").split(",") if v.strip()]
    return items or None


def _as_writer(principal: Principal, settings: Settings) -> dict[str, Any]:
    """Who writes (and owns what it creates), and what it can see of what is there: an entity
    it may not read is not found, one it may read but does not own is refused (403)."""
    scope = scope_for(principal, settings.perception.entity_read,
                      public_types(settings.perception.public_entity_types))  # fmt: skip
    return {"writer": writer_of(principal), "scope": scope}


def check_csf(csf: str | None) -> None:
    """A context-source filter is written in the query language."""
    if csf is not None:
        try:
            service.parse_q(csf, jsonld.context_of(None))
        except BadRequestData:
            raise BadRequestData("csf is a filter in the query language", field="csf") from None
