"""Entities of the NGSI-LD store: create, retrieve, delete and query (by type, id, id pattern,
attributes; limit, offset and count), answered in the reader's own terms, normalized or as
key-values. Changes live in ``updates``, batches and purge in ``batch``, geo-queries in ``geo``,
what the store holds in ``discovery``, the contexts kept here in ``contexts``."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from citybase.core.errors import Forbidden
from citybase.perception.context import attributes, entity_types, jsonld
from citybase.perception.context import query as query_language
from citybase.perception.context.errors import AlreadyExists as AlreadyExists
from citybase.perception.context.errors import BadRequestData as BadRequestData
from citybase.perception.context.errors import InvalidRequest as InvalidRequest
from citybase.perception.context.errors import ResourceNotFound as ResourceNotFound
from citybase.perception.context.geo import geo_matches, parse_geo
from citybase.perception.context.models import (
    AttributeSeries,
    ContextEntity,
    EntityPlace,
    EntityState,
    type_list,
)

URI = attributes.URI
KINDS = attributes.KINDS
GEOMETRIES = attributes.GEOMETRIES
SCOPE = jsonld.NGSI + "scope"  # a core member kept beside the attributes, shown bare
EXPIRES = jsonld.NGSI + "expiresAt"  # a transient entity's expiry, kept the same way
HIDDEN = attributes.SYSTEM  # members of an attribute shown only with options=sysAttrs


@dataclass(frozen=True, slots=True)
class Writer:
    """Who changes the store: the unit it acts for, which owns what it creates, and whether
    it may change any unit's entities (the platform's administrators and its own work)."""

    unit: str = ""
    any_unit: bool = True

    def may_change(self, owner: str) -> bool:
        return self.any_unit or owner == self.unit


PLATFORM = Writer()  # the platform's own work (the demo, commands): any entity, owned by none


@dataclass(frozen=True, slots=True)
class ReadScope:
    """Whose entities a reader sees: every unit's (``units`` None), or those of ``units`` and
    of the types open to every reader (``types``, as IRIs). An entity of several types is seen
    when any of them is open: each rule allows, none forbids."""

    units: frozenset[str] | None = None
    types: frozenset[str] = frozenset()

    def sees(self, unit: str, type_iri: str | Collection[str]) -> bool:
        held = {type_iri} if isinstance(type_iri, str) else set(type_iri)
        return self.units is None or unit in self.units or bool(held & self.types)

    def clause(self, unit: Any, type_iri: Any = None, *, entity_id: Any = None) -> Any:
        """The same judgement as a SQL condition on these columns (None: no condition): on a
        type column, or (``entity_id``) on every type the entity is filed under."""
        if self.units is None:
            return None
        public = (type_iri.in_(sorted(self.types)) if entity_id is None
                  else entity_types.of_types(self.types, entity_id))  # fmt: skip
        return or_(unit.in_(sorted(self.units)), public)


EVERYONE = ReadScope()


def ownership_refused(entity_id: str, owner: str, *, history: bool = False) -> Forbidden:
    what = f"the history of {entity_id}" if history else f"entity {entity_id}"
    return Forbidden(f"{what} belongs to {owner or 'the platform'}: a unit changes its own "
                     f"entities only", field="id")  # fmt: skip


def _history_owners(session: Session, ids: list[str]) -> dict[str, str]:
    """The unit keeping the history of each of these ids that has one (an entity deleted, or
    history written directly): an entity made anew under such an id would add to it."""
    found: dict[str, str] = {}
    for start in range(0, len(ids), 500):
        found |= dict(session.execute(select(AttributeSeries.entity_id, AttributeSeries.unit)
                                      .where(AttributeSeries.entity_id.in_(ids[start : start + 500]))
                                      .distinct()).all())  # fmt: skip
    return found


def _check_attribute(name: str, attr: Any) -> None:
    attributes.check(name, attr)


def stamp(moment: datetime) -> str:
    """A time as NGSI-LD writes it: UTC with a Z (a naive time is taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


normalize = attributes.normalize


def restamp(
    before: Mapping[str, Any] | None,
    after: dict[str, Any],
    *,
    attrs: Collection[str] | None = None,
    now: datetime,
) -> dict[str, Any]:
    """The entity's attributes as stored after a change: each instance written now (of
    ``attrs``; None: all) carries its own ``createdAt`` — kept from the instance of its
    datasetId it replaces — and ``modifiedAt`` (NGSI-LD 4.8)."""
    when = stamp(now)
    held = before or {}
    return {k: (attributes.stamped(v, held.get(k), when)
                if k != SCOPE and (attrs is None or k in attrs) else v)
            for k, v in after.items()}  # fmt: skip


def _entity_attrs(
    body: dict[str, Any], kind: Any = "", *, need_type: bool = True
) -> dict[str, Any]:
    """An entity's (or a fragment's) attributes, normalized and checked; its type (a name or
    an array of names) checked."""
    if need_type or kind:
        entity_types.given_types(kind)
    attrs: dict[str, Any] = {}
    for name, given in body.items():
        if name in ("id", "type", "@context"):
            continue
        if name == "scope":
            attributes.check_scope(given)
            attrs[name] = {"type": "Property", "value": given}
            continue
        if name.startswith("@"):
            raise BadRequestData(f"{name} is not an attribute", field=name)
        if isinstance(given, list) and given and all(isinstance(g, dict) for g in given):
            attributes.check_name(name)
            attrs[name] = attributes.pack(attributes.check_instances(name, given))
            continue
        attrs[name] = normalize(given)
        if isinstance(attrs[name], dict) and attrs[name].get("datasetId") == "@none":
            attrs[name].pop("datasetId")
        _check_attribute(name, attrs[name])
    return attrs


def _concise(attr: dict[str, Any], names: dict[str, str]) -> Any:
    """The concise form of a stored attribute: no types; a Property with nothing but its
    value becomes the value."""
    inner = {(k if k in jsonld.ATTRIBUTE_KEYS else names.get(k, k)):
             (v if k in jsonld.ATTRIBUTE_KEYS or not isinstance(v, dict) else _concise(v, names))
             for k, v in attr.items() if k != "type"}  # fmt: skip
    if attr.get("type") == "Property" and list(inner) == ["value"] and \
            not isinstance(inner["value"], dict):  # fmt: skip
        return inner["value"]
    return inner


def _names(attrs: dict[str, Any]) -> set[str]:
    """Attribute names, and the names of properties of properties, to be expanded."""
    found = set()
    for name, attr in attrs.items():
        found.add(name)
        for instance in attributes.instances(attr):
            found |= {k for k in instance if k not in jsonld.ATTRIBUTE_KEYS}
    return found


def _rename(attr: Any, names: dict[str, str]) -> Any:
    if isinstance(attr, list):
        return [_rename(a, names) for a in attr]
    if not isinstance(attr, dict):
        return attr
    return {(k if k in jsonld.ATTRIBUTE_KEYS else names.get(k, k)):
            (_rename(v, names) if k not in jsonld.ATTRIBUTE_KEYS else v) for k, v in attr.items()}  # fmt: skip


def create(session: Session, body: Any, context: list[Any], *, writer: Writer = PLATFORM) -> str:
    """Store a new entity; its id must be a URI not yet used. Returns the id. It belongs to the
    writer's unit — a registered device's entity to the device's unit, which alone (or a
    platform administrator) may write it."""
    if not isinstance(body, dict):
        raise BadRequestData("an entity is a JSON object")
    entity_id = attributes.check_id(body.get("id"))
    attrs = _entity_attrs(body, body.get("type"))
    kinds = entity_types.given_types(body.get("type"))
    if session.get(ContextEntity, entity_id) is not None:
        raise AlreadyExists(f"entity {entity_id} exists", field="id")
    names, types = jsonld.expand_names(context, _names(attrs), set(kinds))
    owner = _device_owner(session, entity_id)
    if owner is not None and not writer.may_change(owner):
        raise Forbidden(f"device {entity_id[len(DEVICE):]} belongs to {owner or 'no unit'}: a "
                        f"unit writes the entities of its own devices only", field="id")  # fmt: skip
    owner = writer.unit if owner is None else owner
    kept = _history_owners(session, [entity_id]).get(entity_id)
    if kept is not None and kept != owner and not writer.any_unit:
        raise ownership_refused(entity_id, kept, history=True)
    now = datetime.now(UTC)
    made = ContextEntity(
        id=entity_id, created_at=now, modified_at=now,
        attrs=restamp(None, {names[k]: _rename(v, names) for k, v in attrs.items()}, now=now),
        unit=owner,
    )  # fmt: skip
    entity_types.set_types(made, list(dict.fromkeys(types[k] for k in kinds)))
    session.add(made)
    session.flush()
    entity_types.file(session, {entity_id: type_list(made)}, fresh=True)
    _changed(session, made, set(made.attrs), None)
    return entity_id


def _device_owner(session: Session, entity_id: str) -> str | None:
    """The unit of the registered device whose entity this is (None: not a device's)."""
    if not entity_id.startswith(DEVICE):
        return None
    from citybase.perception.devices import service as devices

    device_id = entity_id[len(DEVICE) :]
    catalog = devices.Catalog(session, {device_id})
    return catalog.owner(device_id) if device_id in catalog.specs else None


FORMS = ("normalized", "keyValues", "concise")


def render_entity(entity: ContextEntity, context: list[Any], *, form: str = "normalized",
            sys_attrs: bool = False, attrs: set[str] | None = None,
            lang: str | None = None) -> dict[str, Any]:  # fmt: skip
    """The entity in the reader's terms, in the normalized, key-values or concise form (with
    ``lang``, a LanguageProperty as the string of the language asked for); its scope bare."""
    inner = {k for v in entity.attrs.values() for i in attributes.instances(v) for k in i
             if k not in jsonld.ATTRIBUTE_KEYS}  # fmt: skip
    held = type_list(entity)
    names, types = jsonld.compact_names(context, set(entity.attrs) | inner, set(held))
    shown = [types.get(t, t) for t in held]
    out: dict[str, Any] = {"id": entity.id, "type": shown[0] if len(shown) == 1 else shown}
    for iri, attr in entity.attrs.items():
        if attrs is not None and iri not in attrs:
            continue
        name = names.get(iri, iri)
        if iri == SCOPE:
            out["scope"] = attributes.default(attr).get("value")
        elif iri == EXPIRES:  # a transient entity's expiry: a system member (6.3.11)
            if sys_attrs and form == "normalized":
                out["expiresAt"] = attributes.default(attr).get("value")
        elif isinstance(attr, list) and form == "keyValues":
            out[name] = {"dataset": {a.get("datasetId", "@none"): attributes.simplified(a, lang)
                                     for a in attr}}  # fmt: skip
        elif isinstance(attr, list):
            out[name] = [_render_attr(a if sys_attrs else attributes.unstamped(a, HIDDEN), form,
                                      lang, names) for a in attr]  # fmt: skip
        else:
            out[name] = _render_attr(attr if sys_attrs else attributes.unstamped(attr, HIDDEN),
                                     form, lang, names)  # fmt: skip
    if sys_attrs and form == "normalized":
        out["createdAt"] = stamp(entity.created_at)
        out["modifiedAt"] = stamp(entity.modified_at)
    return out


def _render_attr(attr: dict[str, Any], form: str, lang: str | None,
                 names: dict[str, str]) -> Any:  # fmt: skip
    if form == "keyValues":
        return attributes.simplified(attr, lang)
    if lang is not None and attr.get("type") == "LanguageProperty":
        chosen = attributes.language_of(attr.get("languageMap"), lang)
        shown = {"type": "Property",
                 "value": attributes.pick_language(attr.get("languageMap"), lang),
                 **({"lang": chosen} if chosen else {}),
                 **{names.get(k, k): v for k, v in attr.items()
                    if k not in ("type", "languageMap")}}  # fmt: skip
        if form == "concise":
            shown.pop("type")
        return shown
    if form == "concise":
        return _concise(attr, names)
    return {(k if k in jsonld.ATTRIBUTE_KEYS else names.get(k, k)): v for k, v in attr.items()}


def retrieve(session: Session, entity_id: str, context: list[Any], *, form: str = "normalized",
             sys_attrs: bool = False, attrs: list[str] | None = None,
             scope: ReadScope = EVERYONE, lang: str | None = None,
             types: list[str] | None = None) -> dict[str, Any]:  # fmt: skip
    """One entity (of one of ``types`` if given); with ``attrs``, only those, and not found
    when it has none of them."""
    attributes.check_id(entity_id)
    found = session.get(ContextEntity, entity_id)
    if found is None or not scope.sees(found.unit, type_list(found)):
        raise ResourceNotFound(f"no entity {entity_id}", field="id")
    _check_types(found, types, context)
    wanted = set(jsonld.expand_names(context, set(attrs), set())[0].values()) if attrs else None
    if wanted is not None and not wanted & found.attrs.keys():
        raise ResourceNotFound(f"entity {entity_id} has none of {', '.join(attrs or [])}",
                               field="attrs")  # fmt: skip
    return render_entity(found, context, form=form, sys_attrs=sys_attrs, attrs=wanted, lang=lang)


def delete(session: Session, entity_id: str, *, writer: Writer = PLATFORM,
           scope: ReadScope = EVERYONE, types: list[str] | None = None,
           context: list[Any] | None = None) -> None:  # fmt: skip
    """Delete an entity (of one of ``types``, if given)."""
    from citybase.perception.context import notify

    attributes.check_id(entity_id)
    found = _entity(session, entity_id, writer, scope)
    _check_types(found, types, context or jsonld.context_of(None))
    notify.record_deletion(session, found)
    session.delete(found)
    session.flush()


CANDIDATES = 20_000  # a geo-query's candidates asked for by id up to this many; beyond, by join


def query(
    session: Session,
    context: list[Any],
    *,
    types: list[str] | None = None,
    ids: list[str] | None = None,
    id_pattern: str | None = None,
    attrs: list[str] | None = None,
    limit: int = 20,
    offset: int = 0,
    form: str = "normalized",
    sys_attrs: bool = False,
    q: str | None = None,
    geo: tuple[str, str, str] | None = None,
    geoproperty: str = "location",
    count: bool = True,
    scope: ReadScope = EVERYONE,
    lang: str | None = None,
    scope_q: str | None = None,
    order: Callable[[list[ContextEntity]], list[ContextEntity]] | None = None,
    limit_more: bool = False,
) -> tuple[list[dict[str, Any]], int | None]:
    """Entities matching type (any of), id (any of), id pattern, having any of ``attrs``,
    meeting ``q`` and the geo-query, in id order (or sorted by ``order``, which reads every
    match before paging); with the total matched when ``count``. ``limit_more``: one entity
    more than the page, if there is one, so that the caller knows a next page exists.

    Type and id are asked of the database, which then pages and counts by itself. What it
    cannot judge (the id pattern, attributes held, q, the exact geometry) is judged here on the
    entities it streams in id order — for a geo-query only those whose box lies near the query's
    geometry (``places``) — stopping once the page is full unless the total is wanted."""
    if types and "*" in types:
        types = None
        everything = True
    else:
        everything = False
    if not (types or ids or id_pattern or attrs or q or geo or scope_q or everything):
        raise BadRequestData("give type, id, idPattern or attrs", field="type")
    if not 0 <= limit <= 1000:
        raise BadRequestData("limit is 0 to 1000", field="limit")
    if limit_more:
        limit += 1
    from citybase.perception.context import places

    where: list[Any] = []
    if types:
        where.append(entity_types.clause(*entity_types.selector(types, context)))
    if ids:
        where.append(ContextEntity.id.in_(ids))
    visible = scope.clause(ContextEntity.unit, entity_id=ContextEntity.id)
    if visible is not None:
        where.append(visible)
    checks: list[Callable[[ContextEntity], bool]] = []
    if id_pattern:
        try:
            pattern = re.compile(id_pattern)
        except re.error as exc:
            raise BadRequestData(f"idPattern is not a regular expression: {exc}",
                                 field="idPattern") from None  # fmt: skip
        checks.append(lambda r: pattern.search(r.id) is not None)
    wanted = set(jsonld.expand_names(context, set(attrs), set())[0].values()) if attrs else None
    if wanted is not None:
        checks.append(lambda r: bool(wanted & r.attrs.keys()))
    if q:
        conditions = parse_q(q, context)
        follow = follower(session, scope) if query_language.depth(conditions) else None
        checks.append(lambda r: matches(r, conditions, follow))
    if scope_q:
        scope_match = parse_scope_q(scope_q)
        checks.append(lambda r: scope_match(_scopes(r.attrs.get(SCOPE))))
    if geo is not None:
        relation, low, high, shape_ = parse_geo(*geo)
        iri = jsonld.expand_names(context, {geoproperty}, set())[0][geoproperty]
        near = places.near(iri, relation, high, shape_.bounds)
        if near is not None:  # the candidates first, through the index, then their entities
            nearby = select(EntityPlace.entity_id).where(near)
            found = list(session.scalars(nearby.limit(CANDIDATES + 1)))
            where.append(ContextEntity.id.in_(found if len(found) <= CANDIDATES else nearby))
        checks.append(lambda r: geo_matches(r, iri, relation, low, high, shape_))
    stmt = select(ContextEntity).where(*where).order_by(ContextEntity.id)
    total: int | None = None
    if order is not None:
        matched_all = [r for r in session.scalars(stmt) if all(check(r) for check in checks)]
        total = len(matched_all) if count else None
        page = order(matched_all)[offset : offset + limit]
    elif not checks:
        if count:
            total = session.scalar(select(func.count()).select_from(ContextEntity).where(*where))
        page = list(session.scalars(stmt.offset(offset).limit(limit))) if limit else []
    else:
        page, matched = [], 0
        result = session.scalars(stmt.execution_options(yield_per=500))
        try:
            for row in result:
                if not all(check(row) for check in checks):
                    continue
                if matched >= offset and len(page) < limit:
                    page.append(row)
                matched += 1
                if not count and matched >= offset + limit:
                    break
        finally:
            result.close()
        total = matched if count else None
    return [render_entity(r, context, form=form, sys_attrs=sys_attrs, attrs=wanted, lang=lang)
            for r in page], total  # fmt: skip


def _scopes(attr: Any) -> list[str]:
    value = attr.get("value") if isinstance(attr, dict) else None
    return [value] if isinstance(value, str) else [v for v in value or [] if isinstance(v, str)]


_SCOPE_TERM = re.compile(
    r"^/(?:[A-Za-z_][A-Za-z0-9_]*|\+)(?:/(?:[A-Za-z_][A-Za-z0-9_]*|\+))*(?:/#)?$|^/#$"
)


def parse_scope_q(text: str) -> Callable[[list[str]], bool]:
    """A scope query (``/Madrid/#`` the scope and those below it, ``+`` any one level, ``;``
    and, ``,`` or ``|`` or, parentheses) → a test of an entity's scopes."""
    tokens = re.findall(r"[();,|]|[^();,|]+", text.replace(" ", ""))
    position = 0

    def term(raw: str) -> Callable[[list[str]], bool]:
        if not _SCOPE_TERM.match(raw):
            raise BadRequestData(f"scopeQ: {raw!r} is not a scope", field="scopeQ")
        pattern = "^" + re.escape(raw).replace(r"\+", "[^/]+")
        pattern = pattern[: -len(r"/\#")] + "(?:/.*)?$" if raw.endswith("/#") else pattern + "$"
        if raw == "/#":
            pattern = "^/.*$"
        compiled = re.compile(pattern)
        return lambda scopes: any(compiled.match(s) for s in scopes)

    def either() -> Callable[[list[str]], bool]:
        nonlocal position
        parts = [both()]
        while position < len(tokens) and tokens[position] in (",", "|"):
            position += 1
            parts.append(both())
        return lambda scopes: any(p(scopes) for p in parts)

    def both() -> Callable[[list[str]], bool]:
        nonlocal position
        parts = [single()]
        while position < len(tokens) and tokens[position] == ";":
            position += 1
            parts.append(single())
        return lambda scopes: all(p(scopes) for p in parts)

    def single() -> Callable[[list[str]], bool]:
        nonlocal position
        if position >= len(tokens):
            raise BadRequestData("scopeQ ends too soon", field="scopeQ")
        part = tokens[position]
        position += 1
        if part == "(":
            inner = either()
            if position >= len(tokens) or tokens[position] != ")":
                raise BadRequestData("scopeQ: a ( is not closed", field="scopeQ")
            position += 1
            return inner
        return term(part)

    found = either()
    if position != len(tokens):
        raise BadRequestData(f"scopeQ: unexpected {tokens[position]!r}", field="scopeQ")
    return found


def entity_count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(ContextEntity)) or 0


# --- attributes and whole entities changed -------------------------------------------------------


def _changed(
    session: Session, entity: ContextEntity | EntityState, attributes: set[str],
    before: Mapping[str, Any] | None, removed: Collection[str] = (), dropped: Collection[str] = (),
) -> None:  # fmt: skip
    """After any change: subscriptions are notified once it commits (told what happened: the
    entity created, or which attributes were created, updated or deleted, and what they held —
    ``before`` is the entity's attributes as they were, None for a new one; ``dropped``, those
    written that lost some of their instances), and the
    attributes' new values join their history."""
    from citybase.perception.context import notify, places, temporal

    _feed_telemetry(session, entity, attributes)
    notify.record(session, entity, attributes, before, removed, dropped)
    temporal.keep(session, entity, attributes)
    places.keep(session, entity, attributes, before, removed)


DEVICE = "urn:ngsi-ld:Device:"


def _feed_telemetry(session: Session, entity: ContextEntity | EntityState,
                    attributes: set[str]) -> None:  # fmt: skip
    """An entity ``urn:ngsi-ld:Device:{device id}`` of a registered device is that device's
    voice: the Properties its type measures (matched by their names' last segment) become
    readings, checked like any other — a reading refused refuses the change — and judged by
    the rules. (Only the device's unit writes it: its entity is that unit's.)"""
    if not entity.id.startswith(DEVICE):
        return
    from citybase.perception.context.attributes import default
    from citybase.perception.devices import service as devices
    from citybase.perception.rules import service as rules
    from citybase.perception.telemetry import service as telemetry
    from citybase.perception.telemetry.schemas import ReadingIn

    device_id = entity.id[len(DEVICE) :]
    catalog = devices.Catalog(session, {device_id})
    measured = catalog.specs.get(device_id)
    if measured is None:
        return  # not a registered device: an entity like any other
    owner = catalog.owner(device_id) or ""
    if entity.unit != owner:  # made before the device was registered, by another unit
        raise Forbidden(f"device {device_id} belongs to {owner or 'no unit'}, its entity to "
                        f"{entity.unit or 'the platform'}: an administrator hands the entity "
                        f"to the device's unit first", field="id")  # fmt: skip
    moments: dict[datetime | None, dict[str, Any]] = {}
    for iri in attributes:
        attr = default(entity.attrs.get(iri))
        name = re.split(r"[/#]", iri)[-1]
        if isinstance(attr, dict) and attr.get("type") == "Property" and name in measured:
            when = datetime.fromisoformat(str(attr["observedAt"]).replace("Z", "+00:00")) \
                if "observedAt" in attr else None  # fmt: skip
            moments.setdefault(when, {})[name] = attr.get("value")
    if not moments:
        return
    readings = [ReadingIn(device_id=device_id, ts=ts, values=v) for ts, v in moments.items()]
    report, accepted = telemetry.ingest(session, readings, protocol="ngsi-ld")
    if report.rejected:
        raise BadRequestData("; ".join(r.reason for r in report.rejected), field="value")
    rules.judge(session, accepted)


def _entity(session: Session, entity_id: str, writer: Writer = PLATFORM,
            scope: ReadScope = EVERYONE) -> ContextEntity:  # fmt: skip
    """The entity to change: unknown to a writer who may not see it (404), refused to one
    whose unit does not own it (403)."""
    found = session.get(ContextEntity, entity_id)
    if found is None or not scope.sees(found.unit, type_list(found)):
        raise ResourceNotFound(f"no entity {entity_id}", field="id")
    if not writer.may_change(found.unit):
        raise ownership_refused(entity_id, found.unit)
    return found


# --- the q query language and what the store holds -----------------------------------------------


def parse_q(q: str, context: list[Any]) -> query_language.Node:
    """The query with its attribute names expanded by the reader's context."""
    node = query_language.parse(q)
    iris, types = jsonld.expand_names(context, query_language.names(node),
                                      query_language.hints(node))  # fmt: skip
    return query_language.expanded(node, iris, types)


def follower(session: Session, scope: ReadScope) -> query_language.Follow:
    """How a query follows a Relationship: to the linked entity's type and attributes, where
    the reader may see that entity (one it may not see meets no linked path)."""

    def follow(entity_id: str) -> tuple[set[str], dict[str, Any]] | None:
        found = session.get(ContextEntity, entity_id)
        if found is None or not scope.sees(found.unit, type_list(found)):
            return None
        return set(type_list(found)), found.attrs

    return follow


def matches(entity: ContextEntity, q: query_language.Node,
            follow: query_language.Follow | None = None) -> bool:  # fmt: skip
    return query_language.holds(q, entity.attrs, follow)


def check_type(session: Session, entity_id: str, types: list[str] | None,
               context: list[Any]) -> None:  # fmt: skip
    """An operation naming the entity's type (``?type=``) finds no entity of another type."""
    if not types:
        return
    found = session.get(ContextEntity, attributes.check_id(entity_id))
    if found is not None:
        _check_types(found, types, context)


def _check_types(found: ContextEntity, types: list[str] | None, context: list[Any]) -> None:
    """An entity asked for by type (``?type=``, a selector) is not found if it fails it."""
    if types and not entity_types.holds(*entity_types.selector(types, context),
                                        type_list(found)):  # fmt: skip
        raise ResourceNotFound(f"no entity {found.id} of type {', '.join(types)}", field="type")
