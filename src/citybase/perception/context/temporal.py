"""The history of entities' attributes and the NGSI-LD temporal API over it.

Every value an attribute takes through the context store is kept as an instance (its
``observedAt``, or the time it was stored when none is given); a temporal representation may
also be written directly (``POST /temporal/entities``). Instances are written in one go when the
transaction commits. Each datasetId of an attribute is a series of its own, and each instance
keeps its kind's member (a LanguageProperty's languageMap, a JsonProperty's json …). Reading it
back is ``temporal_query``'s.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import delete, event, insert, select, update
from sqlalchemy.orm import Session

from citybase.core.db.engine import ends_work
from citybase.perception.context import entity_types, jsonld
from citybase.perception.context.attributes import NGSI_NULL, PAYLOAD, instances, unstamped
from citybase.perception.context.models import (
    AttributeInstance,
    AttributeSeries,
    ContextEntity,
    EntityState,
    type_list,
)
from citybase.perception.context.service import (
    EVERYONE,
    PLATFORM,
    URI,
    BadRequestData,
    ReadScope,
    ResourceNotFound,
    Writer,
    _check_attribute,
    _names,
    _rename,
    normalize,
)

INSTANCE = "urn:ngsi-ld:attribute:instance:"
_EXPIRES = jsonld.NGSI + "expiresAt"
_KEYS = ("type", "observedAt", "instanceId", "createdAt", "modifiedAt", "datasetId",
         *PAYLOAD.values())  # fmt: skip


def member(kind: str) -> str:
    """The member holding an instance's value for its kind (value, object, languageMap …)."""
    return PAYLOAD.get(kind, "value")


@dataclass(frozen=True)
class _Pending:
    entity_id: str
    entity_type: str
    attr: str
    observed_at: datetime
    kind: str
    value: Any
    extra: dict[str, Any] | None
    unit: str = ""  # the entity's owning unit, kept with a series when it begins
    dataset: str = ""  # the instance's datasetId, "" for the default instance
    types: tuple[str, ...] | None = None  # every type of an entity of several


def _moment(raw: Any, name: str = "observedAt") -> datetime:
    try:
        moment = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
    except ValueError:
        raise BadRequestData(f"{name} is an ISO 8601 date-time", field=name) from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


def _pending(entity_id: str, entity_type: str | list[str], iri: str, attr: dict[str, Any],
             default_time: datetime, unit: str = "") -> _Pending:  # fmt: skip
    """An instance to keep; ``entity_type``: the entity's type, or all its types."""
    kinds = [entity_type] if isinstance(entity_type, str) else entity_type
    kind = str(attr.get("type", "Property"))
    value = attr.get(member(kind))
    extra = {k: unstamped(v) for k, v in attr.items() if k not in _KEYS}  # sub-attributes bare
    when = _moment(attr["observedAt"]) if "observedAt" in attr else default_time
    dataset = attr.get("datasetId")
    return _Pending(entity_id, kinds[0], iri, when, kind, value, extra or None, unit,
                    dataset if isinstance(dataset, str) else "",
                    tuple(kinds) if len(kinds) > 1 else None)  # fmt: skip


def keep(session: Session, entity: ContextEntity | EntityState, attributes: Iterable[str]) -> None:
    """Keep the new values of these attributes of ``entity``; written when the transaction
    commits."""
    pending: list[_Pending] = session.info.setdefault("citybase_ngsi_history", [])
    stamp = entity.modified_at if entity.modified_at.tzinfo else \
        entity.modified_at.replace(tzinfo=UTC)  # fmt: skip
    for iri in attributes:
        if iri == _EXPIRES:  # when a transient entity expires: a system member, no history
            continue
        for attr in instances(entity.attrs.get(iri)):  # each datasetId in its own series
            pending.append(_pending(entity.id, type_list(entity), iri, attr, stamp, entity.unit))


@event.listens_for(Session, "before_commit")
def _write(session: Session) -> None:
    if not ends_work(session):
        return  # only a savepoint inside the work ends: written when the work commits
    pending = session.info.pop("citybase_ngsi_history", None)
    if pending:
        write(session, pending)


@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    if not ends_work(session):
        return  # a savepoint inside the work rolled back: what came before it still stands
    session.info.pop("citybase_ngsi_history", None)


_ADD = (
    "INSERT INTO perception_attribute_instances (series_id, observed_at, kind, value, number, "
    "extra) VALUES ({p}, {p}, {p}, {j}, {p}, {j}) ON CONFLICT (series_id, observed_at) "
    "DO UPDATE SET kind = excluded.kind, value = excluded.value, number = excluded.number, "
    "extra = excluded.extra"
)  # the same observation written again replaces the one kept
_ADD_MANY = (
    "INSERT INTO perception_attribute_instances (series_id, observed_at, kind, value, number, "
    "extra) SELECT (r->>0)::int, (r->>1)::timestamptz, r->>2, r->3, (r->>4)::float8, "
    "NULLIF(r->5, 'null'::jsonb) FROM jsonb_array_elements(%s::jsonb) AS r "
    "ON CONFLICT (series_id, observed_at) DO UPDATE SET kind = excluded.kind, "
    "value = excluded.value, number = excluded.number, extra = excluded.extra"
)


Key = tuple[str, str, str]  # entity, attribute, datasetId ("" for the default instance)


def _series(session: Session, keys: dict[Key, tuple[str, str]]) -> dict[Key, int]:
    """The series of these (entity, attribute, datasetId) keys, made where missing."""
    found: dict[Key, int] = {}

    def look(wanted: list[Key]) -> None:
        entities = sorted({e for e, _, _ in wanted})  # by the entity's index; the rest sorted here
        for start in range(0, len(entities), 500):
            found.update({(e, a, d): i for i, e, a, d in session.execute(
                select(AttributeSeries.id, AttributeSeries.entity_id, AttributeSeries.attr,
                       AttributeSeries.dataset_id).where(
                    AttributeSeries.entity_id.in_(entities[start : start + 500])))
                if (e, a, d) in keys})  # fmt: skip

    look(list(keys))
    missing = [k for k in keys if k not in found]
    if missing:
        session.execute(insert(AttributeSeries), [
            {"entity_id": e, "attr": a, "dataset_id": d, "entity_type": keys[(e, a, d)][0],
             "unit": keys[(e, a, d)][1]} for e, a, d in missing])  # fmt: skip
        look(missing)
    return found


def write(session: Session, pending: list[_Pending]) -> None:
    """Store instances: their series found or made, then all rows in one go — on SQLite one
    executemany straight to the driver (SQLAlchemy's per-row parameter building cost more than
    the insert), on PostgreSQL one statement over the batch sent as a single JSON array (the
    database reads it in C, where arrays of text would be escaped value by value)."""
    series = _series(session, {(p.entity_id, p.attr, p.dataset): (p.entity_type, p.unit)
                               for p in pending})  # fmt: skip
    several = {p.entity_id: list(p.types) for p in pending if p.types}
    for entity_id, kinds in several.items():  # an entity of several types: its series say so
        session.execute(update(AttributeSeries).where(AttributeSeries.entity_id == entity_id)
                        .values(entity_type=kinds[0], entity_types=kinds))  # fmt: skip
    sqlite = session.get_bind().dialect.name == "sqlite"
    rows: dict[tuple[int, datetime], tuple[Any, ...]] = {}  # one per key: the last one wins
    for p in pending:
        when = p.observed_at.astimezone(UTC)
        number = float(p.value) if isinstance(p.value, int | float) and \
            not isinstance(p.value, bool) else None  # fmt: skip
        sid = series[(p.entity_id, p.attr, p.dataset)]
        if sqlite:
            rows[(sid, when)] = (
                sid, when.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds"),
                p.kind, orjson.dumps(p.value).decode(), number,
                orjson.dumps(p.extra).decode() if p.extra is not None else None,
            )  # fmt: skip
        else:
            rows[(sid, when)] = (sid, when.isoformat(), p.kind, p.value, number, p.extra)
    if sqlite:
        session.connection().exec_driver_sql(_ADD.format(p="?", j="?"), list(rows.values()))
    else:
        document = orjson.dumps(list(rows.values())).decode()
        session.connection().exec_driver_sql(_ADD_MANY, (document,))


# --- writing a temporal representation -----------------------------------------------------------


def owner_of_history(session: Session, entity_id: str) -> str | None:
    """The unit owning an entity's history: the entity's own where it is in the store, else
    the unit of its first kept series (None: no history and no entity)."""
    entity = session.get(ContextEntity, entity_id)
    if entity is not None:
        return entity.unit
    return session.scalars(select(AttributeSeries.unit).where(
        AttributeSeries.entity_id == entity_id).order_by(AttributeSeries.id).limit(1)).first()  # fmt: skip


def _may_rewrite(session: Session, entity_id: str, writer: Writer, scope: ReadScope) -> str:
    """The owner of the history the writer would change; refused unless it is the writer's
    unit's (or the writer may change any): 404 where it may not even see it."""
    from citybase.perception.context.service import ownership_refused

    owner = owner_of_history(session, entity_id)
    if owner is None:
        return writer.unit
    kind = session.scalars(select(AttributeSeries.entity_type).where(
        AttributeSeries.entity_id == entity_id).limit(1)).first()  # fmt: skip
    entity = session.get(ContextEntity, entity_id)
    type_iri = type_list(entity) if entity is not None else (kind or "")
    if not scope.sees(owner, type_iri):
        raise ResourceNotFound(f"no history of {entity_id}", field="id")
    if not writer.may_change(owner):
        raise ownership_refused(entity_id, owner)
    return owner


def add(session: Session, body: Any, context: list[Any], entity_id: str | None = None, *,
        writer: Writer = PLATFORM, scope: ReadScope = EVERYONE,
        existing: bool = False) -> bool:  # fmt: skip
    """Add the instances of a temporal representation (attributes as arrays of instances).
    Returns True when the entity had no history before. The history is its entity's unit's
    (or, for one with no entity in the store, the unit that began it). ``existing``: only to
    an entity that has a history or is in the store (adding attributes), else not found."""
    if not isinstance(body, dict):
        raise BadRequestData("a temporal entity is a JSON object")
    entity_id = entity_id or body.get("id")
    if not isinstance(entity_id, str) or not URI.match(entity_id):
        raise BadRequestData("id must be a URI", field="id")
    if existing and owner_of_history(session, entity_id) is None:
        raise ResourceNotFound(f"no history of {entity_id}", field="id")
    owner = _may_rewrite(session, entity_id, writer, scope)
    known = session.scalars(select(AttributeSeries).where(
        AttributeSeries.entity_id == entity_id).limit(1)).first()  # fmt: skip
    if body.get("type") in (None, "", []) and known is None:
        raise BadRequestData("type is needed", field="type")
    given = entity_types.given_types(body["type"]) if body.get("type") not in (None, "", []) \
        else []  # fmt: skip
    raw = {k: (v if isinstance(v, list) else [v]) for k, v in body.items()
           if k not in ("id", "type", "@context")}  # fmt: skip
    instances = {k: [normalize(i) for i in v] for k, v in raw.items()}
    for name, items in instances.items():
        for given_item, item in zip(raw[name], items, strict=True):
            kind = str(given_item.get("type")) if isinstance(given_item, dict) else ""
            if not (kind in PAYLOAD and item.get(member(kind)) == NGSI_NULL):
                _check_attribute(name, item)  # a deleted instance (4.5.7) is history too
            if "observedAt" not in item:
                raise BadRequestData(f"{name}: each instance needs its observedAt", field=name)
    names, types = jsonld.expand_names(
        context, set().union(*(_names({k: i}) for k, v in instances.items() for i in v))
        if instances else set(), set(given),
    )  # fmt: skip
    # an upsert onto a history adds the types it names to those the history had (5.6.11.4)
    held = (known.entity_types or [known.entity_type]) if known is not None else []
    type_iri = list(dict.fromkeys([*held, *(types[k] for k in given)]))
    now = datetime.now(UTC)
    write(session, [_pending(entity_id, type_iri, names[k], _rename(i, names), now, owner)
                    for k, v in instances.items() for i in v])  # fmt: skip
    return known is None


def remove(session: Session, entity_id: str, attr: str | None = None,
           context: list[Any] | None = None, *, writer: Writer = PLATFORM,
           scope: ReadScope = EVERYONE) -> None:  # fmt: skip
    """Delete an entity's whole history, or one attribute's."""
    _may_rewrite(session, entity_id, writer, scope)
    stmt = select(AttributeSeries.id).where(AttributeSeries.entity_id == entity_id)
    if attr is not None:
        iri = jsonld.expand_names(context or jsonld.context_of(None), {attr}, set())[0][attr]
        stmt = stmt.where(AttributeSeries.attr == iri)
    ids = list(session.scalars(stmt))
    if not ids:
        raise ResourceNotFound(f"no history of {entity_id}" + (f" {attr}" if attr else ""),
                               field="id")  # fmt: skip
    session.execute(delete(AttributeInstance).where(AttributeInstance.series_id.in_(ids)))
    session.execute(delete(AttributeSeries).where(AttributeSeries.id.in_(ids)))


def _instance(session: Session, entity_id: str, attr: str, instance_id: str,
              context: list[Any]) -> tuple[AttributeInstance, str]:  # fmt: skip
    """One kept instance of an entity's attribute, by the instanceId its answers gave."""
    iri = jsonld.expand_names(context, {attr}, set())[0][attr]
    found = re.fullmatch(rf"{re.escape(INSTANCE)}(\d+):(.+)", instance_id)
    row = None
    if found:
        series = session.get(AttributeSeries, int(found[1]))
        if series is not None and (series.entity_id, series.attr) == (entity_id, iri):
            row = session.get(AttributeInstance, (series.id, _moment(found[2], "instanceId")))
    if row is None:
        raise ResourceNotFound(f"no instance {instance_id} of {attr} of {entity_id}",
                               field="instanceId")  # fmt: skip
    return row, iri


def modify_instance(session: Session, entity_id: str, attr: str, instance_id: str, body: Any,
                    context: list[Any], *, writer: Writer = PLATFORM,
                    scope: ReadScope = EVERYONE) -> None:  # fmt: skip
    """Change one kept instance: the fields given (its value or object, unitCode,
    sub-attributes) replace its own; its observedAt names it and stays. The body is the
    attribute (``{"speed": {…}}``) or the instance itself."""
    _may_rewrite(session, entity_id, writer, scope)
    row, iri = _instance(session, entity_id, attr, instance_id, context)
    if isinstance(body, dict) and set(body) - {"@context"} in ({attr}, {iri}):
        body = body.get(attr, body.get(iri))
    if not isinstance(body, dict) or not body:
        raise BadRequestData("the body is the attribute's instance, a JSON object", field="body")
    fragment = {k: v for k, v in body.items() if k not in ("@context", "instanceId")}
    if "observedAt" in fragment and _moment(fragment["observedAt"]) != row.observed_at:
        raise BadRequestData("observedAt names the instance: delete it and add another",
                             field="observedAt")  # fmt: skip
    fragment.pop("observedAt", None)
    kind = str(fragment.get("type", row.kind))
    merged = normalize({"type": kind, member(row.kind): row.value, **(row.extra or {}),
                        **fragment})  # fmt: skip
    _check_attribute(attr, merged)
    names = jsonld.expand_names(context, _names({attr: merged}), set())[0]
    merged = _rename(merged, names)
    value = merged.get(member(str(merged["type"])))
    row.kind, row.value = str(merged["type"]), value
    row.number = float(value) if isinstance(value, int | float) and not isinstance(value, bool) \
        else None  # fmt: skip
    row.extra = {k: v for k, v in merged.items() if k not in _KEYS} or None
    session.flush()


def delete_instance(session: Session, entity_id: str, attr: str, instance_id: str,
                    context: list[Any], *, writer: Writer = PLATFORM,
                    scope: ReadScope = EVERYONE) -> None:  # fmt: skip
    """Delete one kept instance of an attribute."""
    _may_rewrite(session, entity_id, writer, scope)
    row, _ = _instance(session, entity_id, attr, instance_id, context)
    session.delete(row)
    session.flush()
