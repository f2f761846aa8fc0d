"""Entities of the NGSI-LD store: create, retrieve, delete and query (by type, id, id pattern,
attributes; limit, offset and count), answered in the reader's own terms, normalized or as
key-values; and the contexts kept here so that none is fetched from the network."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import orjson
from sqlalchemy import Table, bindparam, func, insert, or_, select, update
from sqlalchemy.orm import Session

from citybase.core.errors import CitybaseError, Forbidden
from citybase.core.ledger import service as ledger
from citybase.core.ledger.schemas import Actor
from citybase.perception.context import attributes, jsonld
from citybase.perception.context import query as query_language
from citybase.perception.context.models import (
    AttributeSeries,
    ContextEntity,
    EntityPlace,
    EntityState,
    StoredContext,
)

URI = attributes.URI
KINDS = attributes.KINDS
GEOMETRIES = attributes.GEOMETRIES
SCOPE = jsonld.NGSI + "scope"  # a core member kept beside the attributes, shown bare


class BadRequestData(CitybaseError):
    status_code = 400
    code = "BadRequestData"


class InvalidRequest(CitybaseError):
    status_code = 400
    code = "InvalidRequest"


class ResourceNotFound(CitybaseError):
    status_code = 404
    code = "ResourceNotFound"


class AlreadyExists(CitybaseError):
    status_code = 409
    code = "AlreadyExists"


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
    of the types open to every reader (``types``, as IRIs)."""

    units: frozenset[str] | None = None
    types: frozenset[str] = frozenset()

    def sees(self, unit: str, type_iri: str) -> bool:
        return self.units is None or unit in self.units or type_iri in self.types

    def clause(self, unit: Any, type_iri: Any) -> Any:
        """The same judgement as a SQL condition on these columns (None: no condition)."""
        if self.units is None:
            return None
        return or_(unit.in_(sorted(self.units)), type_iri.in_(sorted(self.types)))


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


TYPE_NAME = re.compile(r"^[^\d\s]")


def _entity_attrs(
    body: dict[str, Any], kind: Any = "", *, need_type: bool = True
) -> dict[str, Any]:
    """An entity's (or a fragment's) attributes, normalized and checked; its type checked."""
    if need_type or kind:
        if not isinstance(kind, str) or not kind:
            raise BadRequestData("type is needed, a name", field="type")
        if not TYPE_NAME.match(kind) and not URI.match(kind):
            raise BadRequestData(f"type {kind!r} is not a valid name", field="type")
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
    entity_id, kind = attributes.check_id(body.get("id")), str(body.get("type") or "")
    attrs = _entity_attrs(body, body.get("type"))
    if session.get(ContextEntity, entity_id) is not None:
        raise AlreadyExists(f"entity {entity_id} exists", field="id")
    names, types = jsonld.expand_names(context, _names(attrs), {kind})
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
        id=entity_id, type=types[kind], created_at=now, modified_at=now,
        attrs={names[k]: _rename(v, names) for k, v in attrs.items()}, unit=owner,
    )  # fmt: skip
    session.add(made)
    session.flush()
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
    names, types = jsonld.compact_names(context, set(entity.attrs) | inner, {entity.type})
    out: dict[str, Any] = {"id": entity.id, "type": types.get(entity.type, entity.type)}
    for iri, attr in entity.attrs.items():
        if attrs is not None and iri not in attrs:
            continue
        name = names.get(iri, iri)
        if iri == SCOPE:
            out["scope"] = attributes.default(attr).get("value")
        elif isinstance(attr, list) and form == "keyValues":
            out[name] = {"dataset": {a.get("datasetId", "@none"): attributes.simplified(a, lang)
                                     for a in attr}}  # fmt: skip
        elif isinstance(attr, list):
            out[name] = [_render_attr(a, form, lang, names) for a in attr]
        else:
            out[name] = _render_attr(attr, form, lang, names)
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
    if found is None or not scope.sees(found.unit, found.type):
        raise ResourceNotFound(f"no entity {entity_id}", field="id")
    if types and found.type not in jsonld.expand_names(context, set(), set(types))[1].values():
        raise ResourceNotFound(f"no entity {entity_id} of type {', '.join(types)}", field="type")
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
    if types and found.type not in jsonld.expand_names(context or jsonld.context_of(None), set(),
                                                       set(types))[1].values():  # fmt: skip
        raise ResourceNotFound(f"no entity {entity_id} of type {', '.join(types)}", field="type")
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
        expanded = jsonld.expand_names(context, set(), set(types))[1]
        where.append(ContextEntity.type.in_(list(expanded.values())))
    if ids:
        where.append(ContextEntity.id.in_(ids))
    visible = scope.clause(ContextEntity.unit, ContextEntity.type)
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
        checks.append(lambda r: matches(r, conditions))
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


# --- contexts kept here ---------------------------------------------------------------------------


def load_contexts(session: Session, directory: Path, base_url: str = "") -> list[str]:
    """Keep every ``*.jsonld``/``*.json`` context in ``directory``, each under the URL given in
    a sibling ``urls.txt`` (``file name<TAB>url`` lines) or ``base_url`` + its file name."""
    urls: dict[str, str] = {}
    listing = directory / "urls.txt"
    if listing.is_file():
        for line in listing.read_text(encoding="utf-8").splitlines():
            if line.strip() and not line.startswith("#"):
                name, _, url = line.partition("\t")
                urls[name.strip()] = url.strip()
    loaded = []
    for path in sorted([*directory.glob("*.jsonld"), *directory.glob("*.json")]):
        url = urls.get(path.name) or (base_url.rstrip("/") + "/" + path.name if base_url else "")
        if not url:
            raise InvalidRequest(f"{path.name}: no URL for it (urls.txt or --base-url)",
                                 field="url")  # fmt: skip
        text = path.read_text(encoding="utf-8")
        try:
            document = json.loads(text)
        except ValueError as exc:
            raise InvalidRequest(f"{path.name} is not JSON: {exc}", field="file") from None
        if not isinstance(document, dict) or "@context" not in document:
            raise InvalidRequest(f"{path.name} holds no @context", field="file")
        stored = session.get(StoredContext, url) or StoredContext(url=url)
        stored.body = text
        session.add(stored)
        jsonld.remember(url, document)
        loaded.append(url)
    session.flush()
    return loaded


def warm(session: Session) -> int:
    """Put the contexts kept in the database into the processor's cache (at start)."""
    rows = list(session.scalars(select(StoredContext)))
    for row in rows:
        jsonld.remember(row.url, json.loads(row.body))
    return len(rows)


# --- attributes and whole entities changed -------------------------------------------------------


def _changed(
    session: Session, entity: ContextEntity | EntityState, attributes: set[str],
    before: Mapping[str, Any] | None, removed: Collection[str] = (),
) -> None:  # fmt: skip
    """After any change: subscriptions are notified once it commits (told what happened: the
    entity created, or which attributes were created, updated or deleted, and what they held —
    ``before`` is the entity's attributes as they were, None for a new one), and the
    attributes' new values join their history."""
    from citybase.perception.context import notify, places, temporal

    _feed_telemetry(session, entity, attributes)
    notify.record(session, entity, attributes, before, removed)
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
    if found is None or not scope.sees(found.unit, found.type):
        raise ResourceNotFound(f"no entity {entity_id}", field="id")
    if not writer.may_change(found.unit):
        raise ownership_refused(entity_id, found.unit)
    return found


def _expanded_attrs(body: Any, context: list[Any]) -> dict[str, Any]:
    return _expanded_with_names(body, context)[0]


def _expanded_with_names(body: Any, context: list[Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """The attributes with their names expanded, and each IRI's name as the request gave it."""
    if not isinstance(body, dict):
        raise BadRequestData("attributes come as a JSON object")
    attrs = _entity_attrs(body, need_type=False)
    names, _ = jsonld.expand_names(context, _names(attrs), set())
    return {names[k]: _rename(v, names) for k, v in attrs.items()}, {names[k]: k for k in attrs}


def _holds(old: Any, new: Any) -> bool:
    """Whether ``old`` has an instance of each datasetId in ``new``."""
    have = {attributes.dataset_of(a) for a in attributes.instances(old)}
    return bool(have) and all(attributes.dataset_of(a) in have for a in attributes.instances(new))


def append_attrs(session: Session, entity_id: str, body: Any, context: list[Any], *,
                 no_overwrite: bool = False, writer: Writer = PLATFORM, scope: ReadScope = EVERYONE,
                 ) -> list[dict[str, str]]:  # fmt: skip
    """Add attributes (replacing the instances of the same name and datasetId unless
    ``no_overwrite``; one of another datasetId joins them). Returns the attributes not
    changed, with why."""
    entity = _entity(session, entity_id, writer, scope)
    incoming, asked = _expanded_with_names(body, context)
    if no_overwrite and SCOPE in incoming and SCOPE in entity.attrs:  # scopes add up
        had, given = (_scopes(entity.attrs[SCOPE]), _scopes(incoming[SCOPE]))
        incoming[SCOPE] = {"type": "Property", "value": had + [g for g in given if g not in had]}
        entity.attrs = {k: v for k, v in entity.attrs.items() if k != SCOPE}
    kept = {k for k, v in incoming.items() if no_overwrite and _holds(entity.attrs.get(k), v)}
    before = entity.attrs  # the old dict: a change assigns a new one
    entity.attrs = {**entity.attrs, **{k: attributes.put(entity.attrs.get(k), v)
                                       for k, v in incoming.items() if k not in kept}}  # fmt: skip
    entity.modified_at = datetime.now(UTC)
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
    nulls = {k for k, v in body.items() if k not in ("id", "type", "@context") and _is_null(v)}
    if any(v is None for v in body.values()):
        raise BadRequestData("an attribute is removed with urn:ngsi-ld:null, not null")
    incoming, asked = _expanded_with_names({k: v for k, v in body.items() if k not in nulls},
                                           context)  # fmt: skip
    gone = set(jsonld.expand_names(context, nulls, set())[0].values()) if nulls else set()
    missing = {k for k, v in incoming.items() if not _holds(entity.attrs.get(k), v)}
    before = entity.attrs  # the old dict: a change assigns a new one
    entity.attrs = {**{k: v for k, v in entity.attrs.items() if k not in gone},
                    **{k: attributes.put(entity.attrs.get(k), v) for k, v in incoming.items()
                       if k not in missing}}  # fmt: skip
    entity.modified_at = datetime.now(UTC)
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
    entity.attrs = {**entity.attrs, iri: attributes.put(entity.attrs[iri], merged)}
    entity.modified_at = datetime.now(UTC)
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
        _changed(session, entity, {iri}, before)
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
    if kind:
        entity.type = jsonld.expand_names(context, set(), {kind})[1][kind]
    before = entity.attrs  # the old dict: a change assigns a new one
    entity.attrs = attrs
    entity.modified_at = datetime.now(UTC)
    session.flush()
    _changed(session, entity, set(attrs), before, removed=before.keys() - set(attrs))


def upsert(session: Session, body: Any, context: list[Any], *, replace_all: bool = True,
           writer: Writer = PLATFORM, scope: ReadScope = EVERYONE) -> bool:  # fmt: skip
    """Create the entity, or change it (replace it, or update its attributes). True if new."""
    entity_id = body.get("id") if isinstance(body, dict) else None
    if isinstance(entity_id, str) and session.get(ContextEntity, entity_id) is not None:
        if replace_all:
            replace(session, entity_id, body, context, writer=writer, scope=scope)
        else:
            append_attrs(session, entity_id, body, context, writer=writer, scope=scope)
        return False
    create(session, body, context, writer=writer)
    return True


def _prepared(item: Any) -> tuple[str, str, dict[str, Any]]:
    """A batch item checked as a whole entity: its id, type and normalized attributes."""
    if not isinstance(item, dict):
        raise BadRequestData("an entity is a JSON object")
    entity_id, kind = attributes.check_id(item.get("id")), str(item.get("type") or "")
    attrs = _entity_attrs(item, item.get("type"))
    return entity_id, kind, attrs


def upsert_many(session: Session, items: list[Any], context: list[Any], *, create_only: bool = False,
                replace_all: bool = True, writer: Writer = PLATFORM,
                new_ids: list[str] | None = None,
                ) -> tuple[list[str], list[tuple[Any, CitybaseError]], bool]:  # fmt: skip
    """Batch create or upsert: every entity checked first, the names of all of them expanded at
    once, the existing ones read in one query, then all written with one insert and one update
    (no ORM bookkeeping per entity). Returns the ids done, the items refused with why, and
    whether any entity was new. Entities of registered devices go one by one, each in a
    savepoint of its own, since their readings may be refused. An existing entity of another
    unit is refused unless the writer may change any unit's; a new one is the writer's unit's."""
    ready: list[tuple[str, str, dict[str, Any]]] = []
    refused: list[tuple[Any, CitybaseError]] = []
    for item in items:
        try:
            ready.append(_prepared(item))
        except CitybaseError as exc:
            refused.append((item.get("id") if isinstance(item, dict) else None, exc))
    devices_ = [item for item in items if isinstance(item, dict) and
                str(item.get("id", "")).startswith(DEVICE)]  # fmt: skip
    ready = [r for r in ready if not r[0].startswith(DEVICE)]
    names, types = jsonld.expand_names(
        context, set().union(*(_names(a) for _, _, a in ready)) if ready else set(),
        {k for _, k, _ in ready},
    )  # fmt: skip
    ids = list({i for i, _, _ in ready})
    from citybase.perception.context import notify, places

    # PostgreSQL merges attributes itself (jsonb ||); unless a subscription needs the whole
    # entity, what each entity holds need not be read and written back
    connection = session.connection()
    merge_in_db = connection.dialect.name == "postgresql" and not notify.listening()
    have: dict[str, tuple[dict[str, Any], datetime, str]] = {}
    for start in range(0, len(ids), 500):
        chunk = ContextEntity.id.in_(ids[start : start + 500])
        if merge_in_db:
            have |= {i: ({}, c, u) for i, c, u in session.execute(
                select(ContextEntity.id, ContextEntity.created_at, ContextEntity.unit).where(
                    chunk))}  # fmt: skip
        else:
            have |= {i: (a, c, u) for i, a, c, u in session.execute(
                select(ContextEntity.id, ContextEntity.attrs, ContextEntity.created_at,
                       ContextEntity.unit).where(chunk))}  # fmt: skip
    # a new entity of an id whose history another unit keeps would add to that history
    kept = {} if writer.any_unit else _history_owners(session, [i for i in ids if i not in have])
    done: list[str] = []
    created = False
    now = datetime.now(UTC)
    places.begin_batch(session)  # filed together once the entities are written
    try:
        inserts: dict[str, dict[str, Any]] = {}
        updates: dict[str, dict[str, Any]] = {}
        for entity_id, kind, attrs in ready:
            expanded = {names[k]: _rename(v, names) for k, v in attrs.items()}
            before = have.get(entity_id)
            if before is not None and create_only:
                refused.append((entity_id, AlreadyExists(f"entity {entity_id} exists", field="id")))
                continue
            if before is not None and not writer.may_change(before[2]):
                refused.append((entity_id, ownership_refused(entity_id, before[2])))
                continue
            if before is None and kept.get(entity_id, writer.unit) != writer.unit:
                refused.append((entity_id, ownership_refused(entity_id, kept[entity_id],
                                                             history=True)))  # fmt: skip
                continue
            new = expanded if before is None or replace_all else {**before[0], **expanded}
            born = before[1] if before is not None else now
            owner = writer.unit if before is None else before[2]
            state = EntityState(entity_id, types[kind], new, born, now, owner)
            row = {"id": entity_id, "type": state.type, "attrs": new, "created_at": born,
                   "modified_at": now, "unit": owner,
                   "merge": before is not None and not replace_all}  # fmt: skip
            (inserts if before is None or entity_id in inserts else updates)[entity_id] = row
            created = created or before is None
            if before is None and new_ids is not None:
                new_ids.append(entity_id)
            have[entity_id] = (new, born, owner)
            _changed(session, state, set(expanded), None if before is None else before[0],
                     removed=() if before is None or not replace_all else
                     before[0].keys() - expanded.keys())  # fmt: skip
            done.append(entity_id)
        table = cast(Table, ContextEntity.__table__)
        if inserts:
            connection.execute(insert(table), [
                {k: v for k, v in r.items() if k != "merge"} for r in inserts.values()])  # fmt: skip
        if updates and connection.dialect.name == "postgresql":  # one statement over arrays
            rows = list(updates.values())
            connection.exec_driver_sql(  # the batch as one JSON document, read by the database
                "UPDATE perception_entities AS e SET type = v.type, attrs = CASE WHEN v.merge THEN "
                "e.attrs || v.attrs ELSE v.attrs END, modified_at = v.modified_at FROM "
                "jsonb_to_recordset(%s::jsonb) AS v(id text, type text, attrs jsonb, "
                "modified_at timestamptz, merge boolean) WHERE e.id = v.id",
                (orjson.dumps([{"id": r["id"], "type": r["type"], "attrs": r["attrs"],
                                "modified_at": r["modified_at"].isoformat(),
                                "merge": r["merge"] and merge_in_db} for r in rows]).decode(),),
            )  # fmt: skip
        elif updates:
            connection.execute(
                update(table).where(table.c.id == bindparam("b_id")).values(
                    type=bindparam("b_type"), attrs=bindparam("b_attrs"),
                    modified_at=bindparam("b_modified")),
                [{"b_id": r["id"], "b_type": r["type"], "b_attrs": r["attrs"],
                  "b_modified": r["modified_at"]} for r in updates.values()],
            )  # fmt: skip
    except BaseException:
        places.end_batch(session, write=False)
        raise
    places.end_batch(session)
    for entity_id in list(inserts) + list(updates):  # what the session held of them is stale
        held = session.identity_map.get(session.identity_key(ContextEntity, entity_id))
        if held is not None:
            session.expire(held)
    for item in devices_:
        try:
            with session.begin_nested():
                if create_only:
                    create(session, item, context, writer=writer)
                    created = True
                    if new_ids is not None:
                        new_ids.append(str(item["id"]))
                else:
                    made = upsert(session, item, context, replace_all=replace_all,
                                  writer=writer)  # fmt: skip
                    created = made or created
                    if made and new_ids is not None:
                        new_ids.append(str(item["id"]))
            done.append(str(item["id"]))
        except CitybaseError as exc:
            refused.append((item.get("id"), exc))
    return done, refused, created


# --- the q query language and what the store holds -----------------------------------------------


def parse_q(q: str, context: list[Any]) -> query_language.Node:
    """The query with its attribute names expanded by the reader's context."""
    node = query_language.parse(q)
    iris = jsonld.expand_names(context, query_language.names(node), set())[0]
    return query_language.expanded(node, iris)


def matches(entity: ContextEntity, q: query_language.Node) -> bool:
    return query_language.holds(q, entity.attrs)


def types_and_attributes(session: Session, context: list[Any],
                         scope: ReadScope = EVERYONE) -> dict[str, list[str]]:  # fmt: skip
    """Each entity type (in the reader's terms) with the attribute names its entities have."""
    found: dict[str, set[str]] = {}
    stmt = select(ContextEntity.type, ContextEntity.attrs)
    visible = scope.clause(ContextEntity.unit, ContextEntity.type)
    if visible is not None:
        stmt = stmt.where(visible)
    for kind, attrs in session.execute(stmt):
        found.setdefault(kind, set()).update(a for a in attrs if a != SCOPE)
    names, types = jsonld.compact_names(context, {a for v in found.values() for a in v},
                                        set(found))  # fmt: skip
    return {types.get(k, k): sorted(names.get(a, a) for a in v) for k, v in sorted(found.items())}


def census(session: Session, context: list[Any], scope: ReadScope = EVERYONE,
           ) -> dict[str, tuple[int, dict[str, set[str]]]]:  # fmt: skip
    """Each entity type (IRI) held: how many entities, and each attribute (IRI) with its kinds."""
    found: dict[str, tuple[int, dict[str, set[str]]]] = {}
    stmt = select(ContextEntity.type, ContextEntity.attrs)
    visible = scope.clause(ContextEntity.unit, ContextEntity.type)
    if visible is not None:
        stmt = stmt.where(visible)
    for kind, attrs in session.execute(stmt):
        count, held = found.get(kind, (0, {}))
        for iri, attr in attrs.items():
            if iri != SCOPE:
                held.setdefault(iri, set()).update(
                    str(i.get("type")) for i in attributes.instances(attr)
                )
        found[kind] = (count + 1, held)
    return found


def attribute_counts(session: Session, scope: ReadScope = EVERYONE) -> dict[str, int]:
    """How many entities hold each attribute (IRI)."""
    counts: dict[str, int] = {}
    stmt = select(ContextEntity.attrs)
    visible = scope.clause(ContextEntity.unit, ContextEntity.type)
    if visible is not None:
        stmt = stmt.where(visible)
    for (attrs,) in session.execute(stmt):
        for iri in attrs:
            counts[iri] = counts.get(iri, 0) + 1
    return counts


# --- geo-queries ----------------------------------------------------------------------------------

GEORELS = {"near", "within", "contains", "intersects", "equals", "disjoint", "overlaps"}


def parse_geo(
    georel: str, geometry: str, coordinates: str
) -> tuple[str, float | None, float | None, Any]:
    """``georel`` (``near;maxDistance==2000`` …), ``geometry`` and ``coordinates`` (JSON) → the
    relation, the distances in metres and the query's shape."""
    from shapely.geometry import shape

    parts = georel.split(";")
    relation = parts[0]
    if relation not in GEORELS:
        raise BadRequestData(f"georel is one of {', '.join(sorted(GEORELS))}", field="georel")
    low = high = None
    if len(parts) > 2:
        raise BadRequestData("georel: near takes one distance, maxDistance or minDistance",
                             field="georel")  # fmt: skip
    for part in parts[1:]:
        key, _, value = part.partition("==")
        try:
            number = float(value)
        except ValueError:
            raise BadRequestData(f"georel: {part} is not a distance", field="georel") from None
        if not math.isfinite(number) or number < 0 or (key == "maxDistance" and number == 0):
            raise BadRequestData(f"georel: {part} is not a distance in metres", field="georel")
        if key == "maxDistance":
            high = number
        elif key == "minDistance":
            low = number
        else:
            raise BadRequestData(f"georel: unknown {key}", field="georel")
    if relation == "near" and low is None and high is None:
        raise BadRequestData("near needs maxDistance or minDistance", field="georel")
    if geometry not in GEOMETRIES:
        raise BadRequestData(
            f"geometry is one of {', '.join(sorted(GEOMETRIES))}", field="geometry"
        )
    try:
        found = shape({"type": geometry, "coordinates": json.loads(coordinates)})
    except (ValueError, TypeError, IndexError, AttributeError) as exc:
        raise BadRequestData(f"coordinates do not make a {geometry}: {exc}",
                             field="coordinates") from None  # fmt: skip
    if not found.is_valid:
        raise BadRequestData(f"the {geometry} is not valid", field="coordinates")
    return relation, low, high, found


def _metres(a: Any, b: Any) -> float:
    """Distance in metres between two shapes near each other (nearest points, great circle)."""
    from shapely.ops import nearest_points

    from citybase.core.geo import distance_m

    p, q = nearest_points(a, b)
    return distance_m(p.x, p.y, q.x, q.y)


def geo_matches(entity: ContextEntity, attribute: str, relation: str, low: float | None,
                high: float | None, query: Any) -> bool:  # fmt: skip
    attr = attributes.default(entity.attrs.get(attribute))
    if not isinstance(attr, dict):
        return False
    return geometry_matches(attr.get("value"), relation, low, high, query)


def geometry_matches(value: Any, relation: str, low: float | None, high: float | None,
                     query: Any) -> bool:  # fmt: skip
    """Whether a GeoJSON geometry stands in the relation to the query's shape."""
    from shapely.geometry import shape

    if not isinstance(value, dict):
        return False
    try:
        own = shape(value)
    except (ValueError, TypeError, IndexError, AttributeError):
        return False
    if relation == "near":
        distance = _metres(own, query)
        return (high is None or distance <= high) and (low is None or distance >= low)
    return bool(getattr(own, relation)(query))


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
        where.append(ContextEntity.type.in_(list(expanded.values())))
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
    as ``urn:ngsi-ld:null`` (or JSON null) is removed; the type may be given again."""
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
    if rest.get("type"):
        kind = rest["type"]
        _entity_attrs({}, kind)
        entity.type = jsonld.expand_names(context, set(), {kind})[1][kind]
    gone = {iris[n] for n in removed_names} & entity.attrs.keys()
    before = entity.attrs  # the old dict: a change assigns a new one
    entity.attrs = {**{k: v for k, v in entity.attrs.items() if k not in gone}, **incoming}
    entity.modified_at = datetime.now(UTC)
    session.flush()
    _changed(session, entity, set(incoming), before, removed=gone)


def replace_attr(session: Session, entity_id: str, name: str, body: Any, context: list[Any], *,
                 writer: Writer = PLATFORM, scope: ReadScope = EVERYONE) -> None:  # fmt: skip
    """``PUT /entities/{id}/attrs/{name}``: the attribute the entity has becomes the one
    given, whole."""
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
    entity.attrs = {**entity.attrs, **incoming}
    entity.modified_at = datetime.now(UTC)
    session.flush()
    _changed(session, entity, set(incoming), before)


def purge(session: Session, context: list[Any], *, types: list[str] | None, q: str | None,
          scope_q: str | None, ids: list[str] | None, id_pattern: str | None,
          drop: list[str] | None, keep: list[str] | None, writer: Writer = PLATFORM,
          scope: ReadScope = EVERYONE, attrs: list[str] | None = None,
          everything: bool = False) -> int:  # fmt: skip
    """``DELETE /entityOperations/purge``: the entities matched by type, ``q`` or ``scopeQ``
    (``id`` and ``idPattern`` narrow them) deleted, or with ``drop`` their attributes named,
    with ``keep`` all but those named. Only entities the writer may change; returns how many."""
    if drop and keep:
        raise BadRequestData("drop and keep do not go together", field="drop")
    if not (types or q or scope_q or attrs or everything):
        raise BadRequestData("purge needs type, attrs, q or scopeQ", field="type")
    done = 0
    offset = 0
    while True:
        if types or q or scope_q or attrs or ids or id_pattern:
            page, _ = query(session, context, types=types, ids=ids, id_pattern=id_pattern, q=q,
                            scope_q=scope_q, attrs=attrs, limit=1000, offset=offset,
                            count=False, scope=scope, form="keyValues")  # fmt: skip
        else:
            page = [{"id": i} for i in session.scalars(
                select(ContextEntity.id).order_by(ContextEntity.id).offset(offset).limit(1000))]  # fmt: skip
        if not page:
            break
        for item in page:
            found = session.get(ContextEntity, item["id"])
            if found is None or not writer.may_change(found.unit):
                offset += 1
                continue
            if drop or keep:
                named = set(jsonld.expand_names(context, set(drop or keep or []), set())[0]
                            .values())  # fmt: skip
                gone = (named if drop else found.attrs.keys() - named) & found.attrs.keys()
                before = found.attrs  # the old dict: a change assigns a new one
                found.attrs = {k: v for k, v in found.attrs.items() if k not in gone}
                found.modified_at = datetime.now(UTC)
                session.flush()
                _changed(session, found, set(), before, removed=gone)
                offset += 1
            else:
                delete(session, found.id, writer=writer, scope=scope)
            done += 1
        if drop or keep:
            if len(page) < 1000:
                break
    return done


def check_type(session: Session, entity_id: str, types: list[str] | None,
               context: list[Any]) -> None:  # fmt: skip
    """An operation naming the entity's type (``?type=``) finds no entity of another type."""
    if not types:
        return
    found = session.get(ContextEntity, attributes.check_id(entity_id))
    if found is not None and found.type not in jsonld.expand_names(context, set(),
                                                                   set(types))[1].values():  # fmt: skip
        raise ResourceNotFound(f"no entity {entity_id} of type {', '.join(types)}", field="type")
