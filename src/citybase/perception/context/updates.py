"""Entities of the NGSI-LD store changed: attributes appended, updated, patched, replaced and
deleted; whole entities replaced and merged; entities handed over to another unit."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from citybase.core.ledger import service as ledger
from citybase.core.ledger.schemas import Actor
from citybase.perception.context import attributes, entity_types, jsonld
from citybase.perception.context.errors import BadRequestData, ResourceNotFound
from citybase.perception.context.models import (
    AttributeSeries,
    ContextEntity,
    type_list,
)
from citybase.perception.context.service import (
    EVERYONE,
    PLATFORM,
    SCOPE,
    ReadScope,
    Writer,
    _changed,
    _check_attribute,
    _device_owner,
    _entity,
    _entity_attrs,
    _names,
    _rename,
    _scopes,
    restamp,
)


def _expanded_attrs(body: Any, context: list[Any]) -> dict[str, Any]:
    return _expanded_with_names(body, context)[0]


def _expanded_with_names(body: Any, context: list[Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """The attributes with their names expanded, and each IRI's name as the request gave it."""
    if not isinstance(body, dict):
        raise BadRequestData("attributes come as a JSON object")
    attrs = _entity_attrs(body, need_type=False)
    names, _ = jsonld.expand_names(context, _names(attrs), set())
    return {names[k]: _rename(v, names) for k, v in attrs.items()}, {names[k]: k for k in attrs}


def _add_types(session: Session, entity: ContextEntity, body: Any, context: list[Any]) -> None:
    """The types an update gives (its ``type`` member) join the entity's; none is taken away."""
    if not isinstance(body, dict) or body.get("type") in (None, "", []):
        return
    kinds = entity_types.given_types(body["type"])
    iris = jsonld.expand_names(context, set(), set(kinds))[1]
    if entity_types.add_types(entity, [iris[k] for k in kinds]):
        session.flush()
        entity_types.file(session, {entity.id: type_list(entity)})


def _holds(old: Any, new: Any) -> bool:
    """Whether ``old`` has an instance of each datasetId in ``new``."""
    have = {attributes.dataset_of(a) for a in attributes.instances(old)}
    return bool(have) and all(attributes.dataset_of(a) in have for a in attributes.instances(new))


def _default_nulls(session: Session, entity_id: str, body: dict[str, Any], context: list[Any],
                   writer: Writer, scope: ReadScope) -> dict[str, Any]:  # fmt: skip
    """An attribute given as NGSI-LD null without a datasetId, where the entity holds it in
    several instances: only its default instance is deleted (5.6.2, 5.6.17 with 4.5.5). The
    body without those; an attribute of one instance is left to be removed whole."""
    entity = _entity(session, entity_id, writer, scope)
    names = [k for k, v in body.items()
             if k not in ("id", "type", "@context") and v is not None and _is_null(v)]  # fmt: skip
    iris = jsonld.expand_names(context, set(names), set())[0] if names else {}
    chosen = set()
    for name in names:
        held = attributes.instances(entity.attrs.get(iris[name]))
        if len(held) > 1 and any(attributes.dataset_of(a) is None for a in held):
            delete_attr(session, entity_id, name, context, writer=writer, scope=scope)
            chosen.add(name)
    return {k: v for k, v in body.items() if k not in chosen}


def append_attrs(session: Session, entity_id: str, body: Any, context: list[Any], *,
                 no_overwrite: bool = False, writer: Writer = PLATFORM, scope: ReadScope = EVERYONE,
                 ) -> list[dict[str, str]]:  # fmt: skip
    """Add attributes (replacing the instances of the same name and datasetId unless
    ``no_overwrite``; one of another datasetId joins them). Returns the attributes not
    changed, with why."""
    entity = _entity(session, entity_id, writer, scope)
    incoming, asked = _expanded_with_names(body, context)
    _add_types(session, entity, body, context)
    if no_overwrite and SCOPE in incoming and SCOPE in entity.attrs:  # scopes add up
        had, given = (_scopes(entity.attrs[SCOPE]), _scopes(incoming[SCOPE]))
        incoming[SCOPE] = {"type": "Property", "value": had + [g for g in given if g not in had]}
        entity.attrs = {k: v for k, v in entity.attrs.items() if k != SCOPE}
    kept = {k for k, v in incoming.items() if no_overwrite and _holds(entity.attrs.get(k), v)}
    before = entity.attrs  # the old dict: a change assigns a new one
    now = datetime.now(UTC)
    entity.attrs = restamp(before, {**entity.attrs, **{k: attributes.put(entity.attrs.get(k), v)
                                    for k, v in incoming.items() if k not in kept}}, now=now)  # fmt: skip
    entity.modified_at = now
    session.flush()
    _changed(session, entity, set(incoming) - kept, before)
    return [{"attributeName": asked[k], "reason": "exists; noOverwrite"} for k in sorted(kept)]


def update_attrs(session: Session, entity_id: str, body: Any, context: list[Any], *,
                 writer: Writer = PLATFORM, scope: ReadScope = EVERYONE,
                 ) -> list[dict[str, str]]:  # fmt: skip
    """Replace attribute instances that exist (by name and datasetId); those that do not are
    left out and reported; one given as ``urn:ngsi-ld:null`` is deleted."""
    entity = _entity(session, entity_id, writer, scope)
    if not isinstance(body, dict):
        raise BadRequestData("attributes come as a JSON object")
    instance_nulls = {k: v["datasetId"] for k, v in body.items()
                      if isinstance(v, dict) and "datasetId" in v and _is_null(v)}  # fmt: skip
    for name, dataset in instance_nulls.items():
        delete_attr(session, entity_id, name, context, writer=writer, scope=scope,
                    dataset=str(dataset))  # fmt: skip
    body = {k: v for k, v in body.items() if k not in instance_nulls}
    body = _default_nulls(session, entity_id, body, context, writer, scope)
    nulls = {k for k, v in body.items() if k not in ("id", "type", "@context") and _is_null(v)}
    if any(v is None for v in body.values()):
        raise BadRequestData("an attribute is removed with urn:ngsi-ld:null, not null")
    incoming, asked = _expanded_with_names({k: v for k, v in body.items() if k not in nulls},
                                           context)  # fmt: skip
    _add_types(session, entity, body, context)
    gone = set(jsonld.expand_names(context, nulls, set())[0].values()) if nulls else set()
    missing = {k for k, v in incoming.items() if not _holds(entity.attrs.get(k), v)}
    before = entity.attrs  # the old dict: a change assigns a new one
    now = datetime.now(UTC)
    entity.attrs = restamp(before, {**{k: v for k, v in entity.attrs.items() if k not in gone},
                                    **{k: attributes.put(entity.attrs.get(k), v)
                                       for k, v in incoming.items() if k not in missing}},
                           now=now)  # fmt: skip
    entity.modified_at = now
    session.flush()
    _changed(session, entity, set(incoming) - missing, before, removed=gone & before.keys())
    return [{"attributeName": asked[k], "reason": "no such attribute"} for k in sorted(missing)]


def patch_attr(session: Session, entity_id: str, name: str, body: Any, context: list[Any], *,
               writer: Writer = PLATFORM, scope: ReadScope = EVERYONE) -> None:  # fmt: skip
    """Partial update of one attribute (its instance of the ``datasetId`` given): the fields
    given replace those it has."""
    attributes.check_id(entity_id)
    if name == "scope":
        raise BadRequestData("scope is changed with the entity, not as an attribute", field=name)
    entity = _entity(session, entity_id, writer, scope)
    iri = jsonld.expand_names(context, {name}, set())[0][name]
    if iri not in entity.attrs:
        raise ResourceNotFound(f"entity {entity_id} has no attribute {name}", field=name)
    if not isinstance(body, dict) or not body:
        raise BadRequestData("the fields to change come as a JSON object", field=name)
    if _is_null(body):
        dataset_id = body.get("datasetId")
        delete_attr(session, entity_id, name, context, writer=writer, scope=scope,
                    dataset=None if dataset_id is None else str(dataset_id))  # fmt: skip
        return
    dataset = body.get("datasetId")
    target = next((a for a in attributes.instances(entity.attrs[iri])
                   if a.get("datasetId") == dataset), None)  # fmt: skip
    if target is None:
        raise ResourceNotFound(f"entity {entity_id} has no instance of {name} "
                               f"{'without datasetId' if dataset is None else 'of ' + str(dataset)}",
                               field=name)  # fmt: skip
    fragment = {k: v for k, v in body.items() if k != "@context"}
    if "value" in fragment and isinstance(target.get("value"), dict) and \
            isinstance(fragment["value"], dict) and "coordinates" not in fragment["value"]:  # fmt: skip
        if _has_none(fragment["value"]):
            raise BadRequestData(f"{name}: a value holds no null", field=name)
    merged = {**target, **fragment}
    _check_attribute(name, merged)
    merged = _rename(merged, jsonld.expand_names(context, _names({name: merged}), set())[0])
    before = entity.attrs
    now = datetime.now(UTC)
    entity.attrs = restamp(before, {**entity.attrs, iri: attributes.put(entity.attrs[iri], merged)},
                           now=now)  # fmt: skip
    entity.modified_at = now
    session.flush()
    _changed(session, entity, {iri}, before)


def _has_none(value: Any) -> bool:
    if isinstance(value, dict):
        return any(v is None or _has_none(v) for v in value.values())
    if isinstance(value, list):
        return any(v is None or _has_none(v) for v in value)
    return value is None


def delete_attr(session: Session, entity_id: str, name: str, context: list[Any], *,
                writer: Writer = PLATFORM, scope: ReadScope = EVERYONE,
                dataset: str | None = None, delete_all: bool = False) -> None:  # fmt: skip
    """Delete an attribute's default instance, its instance of ``dataset``, or with
    ``delete_all`` every instance."""
    attributes.check_id(entity_id)
    jsonld.check_names({name})
    entity = _entity(session, entity_id, writer, scope)
    iri = jsonld.expand_names(context, {name}, set())[0][name]
    if iri not in entity.attrs:
        raise ResourceNotFound(f"entity {entity_id} has no attribute {name}", field=name)
    held = attributes.instances(entity.attrs[iri])
    left = [] if delete_all else [a for a in held if a.get("datasetId") != dataset]
    if len(left) == len(held):
        raise ResourceNotFound(f"entity {entity_id} has no instance of {name} "
                               f"{'without datasetId' if dataset is None else 'of ' + dataset}",
                               field=name)  # fmt: skip
    before = entity.attrs  # the old dict: a change assigns a new one
    entity.attrs = {**{k: v for k, v in entity.attrs.items() if k != iri},
                    **({iri: attributes.pack(left)} if left else {})}  # fmt: skip
    entity.modified_at = datetime.now(UTC)
    session.flush()
    if left:
        _changed(session, entity, {iri}, before, dropped={iri})
    else:
        _changed(session, entity, set(), before, removed={iri})


def replace(session: Session, entity_id: str, body: Any, context: list[Any], *,
            writer: Writer = PLATFORM, scope: ReadScope = EVERYONE) -> None:  # fmt: skip
    """The entity becomes what the body says (same id; its type may be given again)."""
    attributes.check_id(entity_id)
    entity = _entity(session, entity_id, writer, scope)
    if isinstance(body, dict) and body.get("id", entity_id) != entity_id:
        raise BadRequestData("the id in the body is not the entity's", field="id")
    kind = body.get("type") if isinstance(body, dict) else None
    attrs = _expanded_attrs(body, context)
    if kind:  # replacing sets the types: those given, and no others
        kinds = entity_types.given_types(kind)
        iris = jsonld.expand_names(context, set(), set(kinds))[1]
        entity_types.set_types(entity, list(dict.fromkeys(iris[k] for k in kinds)))
        session.flush()
        entity_types.file(session, {entity.id: type_list(entity)})
    before = entity.attrs  # the old dict: a change assigns a new one
    now = datetime.now(UTC)
    entity.attrs = restamp(before, attrs, now=now)
    entity.modified_at = now
    session.flush()
    _changed(session, entity, set(attrs), before, removed=before.keys() - set(attrs))


# --- owning units ---------------------------------------------------------------------------------


def hand_over(session: Session, actor: Actor, unit: str, *, ids: list[str] | None = None,
              types: list[str] | None = None, from_unit: str | None = None,
              reason: str = "") -> int:  # fmt: skip
    """Give entities (by id, by type — short names or IRIs —, and/or now held by ``from_unit``,
    "" for the platform's) and their history to ``unit``; on the ledger. Returns how many.
    Entities of registered devices stay with their device's unit."""
    from citybase.core.orgs import service as orgs

    orgs.get_unit(session, unit)  # an unknown unit is refused by its code
    where: list[Any] = []
    if ids:
        where.append(ContextEntity.id.in_(ids))
    if types:
        expanded = jsonld.expand_names(jsonld.context_of(None), set(), set(types))[1]
        where.append(entity_types.of_types(expanded.values()))
    if from_unit is not None:
        where.append(ContextEntity.unit == from_unit)
    if not where:
        raise BadRequestData("name the entities: ids, types or the unit that holds them")
    chosen = [i for i in session.scalars(select(ContextEntity.id).where(*where))
              if _device_owner(session, i) is None]  # fmt: skip
    for start in range(0, len(chosen), 500):
        part = chosen[start : start + 500]
        session.execute(update(ContextEntity).where(ContextEntity.id.in_(part)).values(unit=unit))
        session.execute(update(AttributeSeries).where(AttributeSeries.entity_id.in_(part))
                        .values(unit=unit))  # fmt: skip
    ledger.record(session, actor, "perception.entities.handed_over", object_type="unit",
                  object_id=unit, reason=reason,
                  details={"count": len(chosen), "ids": chosen[:100]})  # fmt: skip
    return len(chosen)


# --- merge, replace of one attribute, purge -------------------------------------------------------

NULL = "urn:ngsi-ld:null"


def _is_null(given: Any) -> bool:
    """Whether an attribute (or one instance) is given as NGSI-LD null: it is to be removed."""
    if given is None or given == NULL:
        return True
    if not isinstance(given, dict):
        return False
    for member in ("value", "object", "languageMap", "json", "vocab", "valueList", "objectList"):
        held = given.get(member)
        if held == NULL or held == {"@none": NULL} or held == [NULL]:
            return True
    return False


def _merge_value(old: Any, new: Any) -> Any:
    """JSON merge patch (RFC 7396) of two compound values: null removes a member."""
    if not isinstance(old, dict) or not isinstance(new, dict) or "coordinates" in new:
        return new
    merged = dict(old)
    for key, value in new.items():
        if value is None or value == NULL:
            merged.pop(key, None)
        else:
            merged[key] = _merge_value(old.get(key), value)
    return merged


def merge(session: Session, entity_id: str, body: Any, context: list[Any], *,
          writer: Writer = PLATFORM, scope: ReadScope = EVERYONE) -> None:  # fmt: skip
    """Merge-patch an entity (``PATCH /entities/{id}``): attributes given are added, or merged
    into those it has (sub-attributes and compound values member by member); an attribute given
    as ``urn:ngsi-ld:null`` (or JSON null) is removed; types given join the entity's."""
    attributes.check_id(entity_id)
    if not isinstance(body, dict):
        raise BadRequestData("the fragment is a JSON object")
    if "id" in body and body["id"] != entity_id:
        raise BadRequestData("the id in the body is not the entity's", field="id")
    entity = _entity(session, entity_id, writer, scope)
    instance_nulls = {k: v["datasetId"] for k, v in body.items()
                      if isinstance(v, dict) and "datasetId" in v and _is_null(v)}  # fmt: skip
    for name, dataset in instance_nulls.items():
        delete_attr(session, entity_id, name, context, writer=writer, scope=scope,
                    dataset=str(dataset))  # fmt: skip
    body = {k: v for k, v in body.items() if k not in instance_nulls}
    body = _default_nulls(session, entity_id, body, context, writer, scope)
    removed_names = {k for k, v in body.items() if k not in ("id", "type", "@context")
                     and _is_null(v)}  # fmt: skip
    rest = {k: v for k, v in body.items() if k not in removed_names}
    expanded_old = entity.attrs
    names_in = {k for k in rest if k not in ("id", "type", "@context")}
    iris = jsonld.expand_names(context, names_in | removed_names, set())[0]
    merged_body: dict[str, Any] = {}
    for name in names_in:
        given = rest[name]
        old = expanded_old.get(iris[name])
        if isinstance(old, dict) and isinstance(given, dict) and "type" not in given and \
                not attributes._geometry(given) and any(k in given for k in (
                    "value", "object", "observedAt", "unitCode", "languageMap", "json", "vocab",
                    "valueList", "objectList")):  # fmt: skip
            given = {**old, **{k: v for k, v in given.items()}}
        elif isinstance(old, dict) and isinstance(given, dict) and "type" in given and \
                given.get("type") == old.get("type"):  # fmt: skip
            given = {**old, **given}
        if isinstance(old, dict) and isinstance(given, dict) and "value" in given and \
                isinstance(old.get("value"), dict):  # fmt: skip
            given["value"] = _merge_value(old["value"], given["value"])
        if isinstance(given, dict):
            given = {k: v for k, v in given.items() if v is not None or k == "value"}
        merged_body[name] = given
    incoming, _ = _expanded_with_names(merged_body, context)
    _add_types(session, entity, rest, context)
    gone = {iris[n] for n in removed_names} & entity.attrs.keys()
    before = entity.attrs  # the old dict: a change assigns a new one
    now = datetime.now(UTC)
    entity.attrs = restamp(before, {**{k: v for k, v in entity.attrs.items() if k not in gone},
                                    **incoming}, now=now)  # fmt: skip
    entity.modified_at = now
    session.flush()
    _changed(session, entity, set(incoming), before, removed=gone)


def replace_attr(session: Session, entity_id: str, name: str, body: Any, context: list[Any], *,
                 writer: Writer = PLATFORM, scope: ReadScope = EVERYONE) -> None:  # fmt: skip
    """``PUT /entities/{id}/attrs/{name}``: the attribute's instance of the datasetId given (the
    default one without) becomes the one given, whole; its other instances stay (5.6.19)."""
    attributes.check_id(entity_id)
    if name == "scope" or name in attributes.NOT_NAMES or name.startswith("@"):
        raise BadRequestData(f"{name} is not an attribute that can be replaced", field=name)
    jsonld.check_names({name})
    entity = _entity(session, entity_id, writer, scope)
    iri = jsonld.expand_names(context, {name}, set())[0][name]
    if iri not in entity.attrs:
        raise ResourceNotFound(f"entity {entity_id} has no attribute {name}", field=name)
    if not isinstance(body, dict):
        raise BadRequestData("the attribute is a JSON object", field=name)
    incoming, _ = _expanded_with_names({name: {k: v for k, v in body.items()
                                               if k != "@context"}}, context)  # fmt: skip
    before = entity.attrs
    now = datetime.now(UTC)
    entity.attrs = restamp(before, {**entity.attrs, iri: attributes.put(entity.attrs[iri],
                                                                        incoming[iri])},
                           now=now)  # fmt: skip
    entity.modified_at = now
    session.flush()
    _changed(session, entity, set(incoming), before)
