"""NGSI-LD discovery (ETSI GS CIM 009, 5.7.5 to 5.7.10): the types and attributes the store holds."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from fastapi.responses import Response

from citybase.core.web.deps import DbSession
from citybase.perception.context import discovery, jsonld
from citybase.perception.context.auth import (
    Scope,
)
from citybase.perception.context.service import ResourceNotFound
from citybase.perception.context.wire import _answer, _known_params, _reader_context

router: APIRouter = APIRouter()

# what an entity holds beside its attributes: never an attribute to be described
ENTITY_MEMBERS = {"id", "type", "scope", "createdAt", "modifiedAt", "deletedAt", "expiresAt",
                  "@id", "@type", "@context"}  # fmt: skip


@router.get("/types")
@router.get("/types/", include_in_schema=False)
def types(
    request: Request, session: DbSession, scope: Scope, details: bool = False,
    link: Annotated[str | None, Header()] = None,
) -> Response:  # fmt: skip
    """The entity types held (``details=true``: with their attribute names)."""
    _known_params(request, {"details", "local"})
    context = _reader_context(link)
    found = discovery.types_and_attributes(session, context, scope)
    if details:  # id: the type's fully qualified name (§5.2.24); typeName in the reader's terms
        full = jsonld.expand_names(context, set(), set(found))[1]
        body: Any = [{"id": full.get(t, t), "type": "EntityType", "typeName": t,
                      "attributeNames": a} for t, a in found.items()]  # fmt: skip
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
    held = discovery.census(session, context, scope)
    iri = jsonld.expand_names(context, set(), {type_name})[1].get(type_name, type_name)
    compact = jsonld.compact_names(context, set(), {iri})[1].get(iri, iri)
    found = held.get(iri)
    if found is None:
        raise ResourceNotFound(f"no entity of type {type_name}", field="type")
    count, attrs = found
    names = jsonld.compact_names(context, set(attrs), set())[0]
    body = {"id": iri, "type": "EntityTypeInfo", "typeName": compact,  # 5.2.26
            "entityCount": count,
            "attributeDetails": [{"id": a, "type": "Attribute",
                                  "attributeName": names.get(a, a),
                                  "attributeTypes": sorted(kinds)}
                                 for a, kinds in sorted(attrs.items())]}  # fmt: skip
    return _answer(request, body, context)


@router.get("/attributes")
@router.get("/attributes/", include_in_schema=False)
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
    found = discovery.types_and_attributes(session, context, scope)
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
    if attr in ENTITY_MEMBERS:  # members of an entity, not attributes (4.5.1, 6.3.11)
        raise ResourceNotFound(f"{attr} is a member of an entity, not an attribute", field="attr")
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
    for type_iri, (_, attrs) in discovery.census(session, context, scope).items():
        for iri, kinds in attrs.items():
            types_, count, held = per.get(iri, (set(), 0, set()))
            per[iri] = (types_ | {type_iri}, count, held | kinds)
    counts = discovery.attribute_counts(session, scope)
    names, type_names = jsonld.compact_names(context, set(per),
                                             {t for v in per.values() for t in v[0]})  # fmt: skip
    return [(iri, names.get(iri, iri), sorted(type_names.get(t, t) for t in v[0]),
             counts.get(iri, 0), v[2]) for iri, v in sorted(per.items())]  # fmt: skip


def _attribute_information(iri: str, name: str, type_names: list[str], *_: Any) -> dict[str, Any]:
    return {"id": iri, "type": "Attribute", "attributeName": name, "typeNames": type_names}
