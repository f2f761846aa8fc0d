"""The history of entities' attributes and the NGSI-LD temporal API over it.

Every value an attribute takes through the context store is kept as an instance (its
``observedAt``, or the time it was stored when none is given); a temporal representation may
also be written directly (``POST /temporal/entities``). Instances are written in one go when the
transaction commits. Queries select by entity type, id or pattern and attributes, a time
relation (``before``, ``after``, ``between``) and ``lastN``, and answer in the normalized
temporal form, as ``temporalValues`` (``[value, time]`` pairs) or ``aggregatedValues`` (per
period of ``aggrPeriodDuration``: totalCount, distinctCount, sum, avg, min, max, stddev, sumsq).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import delete, event, insert, select
from sqlalchemy.orm import Session

from citybase.core.db.engine import ends_work
from citybase.perception.context import jsonld
from citybase.perception.context import query as query_language
from citybase.perception.context.attributes import default
from citybase.perception.context.models import (
    AttributeInstance,
    AttributeSeries,
    ContextEntity,
    EntityState,
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
    stamp,
)

INSTANCE = "urn:ngsi-ld:attribute:instance:"
AGGREGATES = ("totalCount", "distinctCount", "sum", "avg", "min", "max", "stddev", "sumsq")
MOST = 10_000  # instances of one attribute in one answer, at most
DURATION = re.compile(
    r"^P(?:(?P<d>\d+)D)?(?:T(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)
_KEYS = ("type", "value", "object", "observedAt", "instanceId", "createdAt", "modifiedAt")


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


def _moment(raw: Any, name: str = "observedAt") -> datetime:
    try:
        moment = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
    except ValueError:
        raise BadRequestData(f"{name} is an ISO 8601 date-time", field=name) from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


def _pending(entity_id: str, entity_type: str, iri: str, attr: dict[str, Any],
             default_time: datetime, unit: str = "") -> _Pending:  # fmt: skip
    kind = str(attr.get("type", "Property"))
    value = attr.get("object") if kind == "Relationship" else attr.get("value")
    extra = {k: v for k, v in attr.items() if k not in _KEYS}
    when = _moment(attr["observedAt"]) if "observedAt" in attr else default_time
    return _Pending(entity_id, entity_type, iri, when, kind, value, extra or None, unit)


def keep(session: Session, entity: ContextEntity | EntityState, attributes: Iterable[str]) -> None:
    """Keep the new values of these attributes of ``entity``; written when the transaction
    commits."""
    pending: list[_Pending] = session.info.setdefault("citybase_ngsi_history", [])
    stamp = entity.modified_at if entity.modified_at.tzinfo else \
        entity.modified_at.replace(tzinfo=UTC)  # fmt: skip
    for iri in attributes:
        attr = default(entity.attrs.get(iri))
        if isinstance(attr, dict):
            pending.append(_pending(entity.id, entity.type, iri, attr, stamp, entity.unit))


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


def _series(session: Session,
            keys: dict[tuple[str, str], tuple[str, str]]) -> dict[tuple[str, str], int]:  # fmt: skip
    """The series of these (entity, attribute) pairs, made where missing."""
    found: dict[tuple[str, str], int] = {}

    def look(wanted: list[tuple[str, str]]) -> None:
        entities = sorted({e for e, _ in wanted})  # by the entity's index; attributes sorted here
        for start in range(0, len(entities), 500):
            found.update({(e, a): i for i, e, a in session.execute(
                select(AttributeSeries.id, AttributeSeries.entity_id, AttributeSeries.attr).where(
                    AttributeSeries.entity_id.in_(entities[start : start + 500])))
                if (e, a) in keys})  # fmt: skip

    look(list(keys))
    missing = [k for k in keys if k not in found]
    if missing:
        session.execute(insert(AttributeSeries), [
            {"entity_id": e, "attr": a, "entity_type": keys[(e, a)][0], "unit": keys[(e, a)][1]}
            for e, a in missing])  # fmt: skip
        look(missing)
    return found


def write(session: Session, pending: list[_Pending]) -> None:
    """Store instances: their series found or made, then all rows in one go — on SQLite one
    executemany straight to the driver (SQLAlchemy's per-row parameter building cost more than
    the insert), on PostgreSQL one statement over the batch sent as a single JSON array (the
    database reads it in C, where arrays of text would be escaped value by value)."""
    series = _series(session, {(p.entity_id, p.attr): (p.entity_type, p.unit) for p in pending})
    sqlite = session.get_bind().dialect.name == "sqlite"
    rows: dict[tuple[int, datetime], tuple[Any, ...]] = {}  # one per key: the last one wins
    for p in pending:
        when = p.observed_at.astimezone(UTC)
        number = float(p.value) if isinstance(p.value, int | float) and \
            not isinstance(p.value, bool) else None  # fmt: skip
        sid = series[(p.entity_id, p.attr)]
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
    type_iri = entity.type if entity is not None else (kind or "")
    if not scope.sees(owner, type_iri):
        raise ResourceNotFound(f"no history of {entity_id}", field="id")
    if not writer.may_change(owner):
        raise ownership_refused(entity_id, owner)
    return owner


def add(session: Session, body: Any, context: list[Any], entity_id: str | None = None, *,
        writer: Writer = PLATFORM, scope: ReadScope = EVERYONE) -> bool:  # fmt: skip
    """Add the instances of a temporal representation (attributes as arrays of instances).
    Returns True when the entity had no history before. The history is its entity's unit's
    (or, for one with no entity in the store, the unit that began it)."""
    if not isinstance(body, dict):
        raise BadRequestData("a temporal entity is a JSON object")
    entity_id = entity_id or body.get("id")
    if not isinstance(entity_id, str) or not URI.match(entity_id):
        raise BadRequestData("id must be a URI", field="id")
    owner = _may_rewrite(session, entity_id, writer, scope)
    known = session.scalars(select(AttributeSeries).where(
        AttributeSeries.entity_id == entity_id).limit(1)).first()  # fmt: skip
    kind = body.get("type") or (known.entity_type if known else None)
    if not isinstance(kind, str):
        raise BadRequestData("type is needed", field="type")
    raw = {k: (v if isinstance(v, list) else [v]) for k, v in body.items()
           if k not in ("id", "type", "@context")}  # fmt: skip
    instances = {k: [normalize(i) for i in v] for k, v in raw.items()}
    for name, items in instances.items():
        for item in items:
            _check_attribute(name, item)
            if "observedAt" not in item:
                raise BadRequestData(f"{name}: each instance needs its observedAt", field=name)
    names, types = jsonld.expand_names(
        context, set().union(*(_names({k: i}) for k, v in instances.items() for i in v))
        if instances else set(), {kind},
    )  # fmt: skip
    type_iri = types.get(kind, kind) if known is None or body.get("type") else known.entity_type
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
    merged = normalize({"type": kind, **({"object": row.value} if kind == "Relationship" else
                                         {"value": row.value}), **(row.extra or {}), **fragment})  # fmt: skip
    _check_attribute(attr, merged)
    names = jsonld.expand_names(context, _names({attr: merged}), set())[0]
    merged = _rename(merged, names)
    value = merged.get("object") if merged["type"] == "Relationship" else merged.get("value")
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


# --- queries -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    """What a temporal query asks for besides which entities."""

    timerel: str | None = None
    time_at: datetime | None = None
    end_time_at: datetime | None = None
    last_n: int | None = None
    form: str = "normalized"  # or temporalValues, aggregatedValues
    methods: tuple[str, ...] = ()
    period: timedelta | None = None


def window(timerel: str | None, time_at: str | None, end_time_at: str | None,
           last_n: int | None, options: set[str], aggr_methods: str | None,
           aggr_period: str | None) -> Window:  # fmt: skip
    """The query's time window, checked as the standard says."""
    if timerel is not None and timerel not in ("before", "after", "between"):
        raise BadRequestData("timerel is before, after or between", field="timerel")
    if timerel and not time_at:
        raise BadRequestData("timerel needs timeAt", field="timeAt")
    if timerel == "between" and not end_time_at:
        raise BadRequestData("between needs endTimeAt", field="endTimeAt")
    start = _moment(time_at, "timeAt") if time_at else None
    end = _moment(end_time_at, "endTimeAt") if end_time_at else None
    if start and end and end <= start:
        raise BadRequestData("endTimeAt is after timeAt", field="endTimeAt")
    if last_n is not None and last_n < 1:
        raise BadRequestData("lastN is a positive number", field="lastN")
    form = "normalized"
    if "temporalValues" in options:
        form = "temporalValues"
    if "aggregatedValues" in options:
        form = "aggregatedValues"
    methods: tuple[str, ...] = ()
    period = None
    if form == "aggregatedValues":
        methods = tuple(m.strip() for m in (aggr_methods or "").split(",") if m.strip())
        if not methods or not set(methods) <= set(AGGREGATES):
            raise BadRequestData(f"aggrMethods is one or more of {', '.join(AGGREGATES)}",
                                 field="aggrMethods")  # fmt: skip
        period = _duration(aggr_period) if aggr_period else None
    return Window(timerel, start, end, last_n, form, methods, period)


def check_duration(raw: str) -> None:
    _duration(raw)


def _duration(raw: str) -> timedelta | None:
    found = DURATION.match(raw)
    if found is None or raw in ("P", "PT"):
        raise BadRequestData("aggrPeriodDuration is an ISO 8601 duration (PT1H, P1D, PT5M)",
                             field="aggrPeriodDuration")  # fmt: skip
    span = timedelta(days=int(found["d"] or 0), hours=int(found["h"] or 0),
                     minutes=int(found["m"] or 0), seconds=float(found["s"] or 0))  # fmt: skip
    return span or None  # P0D: the whole window


@dataclass(frozen=True, slots=True)
class Instance:
    """One kept value as an answer needs it: its time already written as the API writes it."""

    stamp: str
    kind: str
    value: Any
    number: float | None
    extra: dict[str, Any] | None

    @property
    def observed_at(self) -> datetime:
        return datetime.fromisoformat(self.stamp)


def _iso(raw: Any) -> str:
    """A stored time as ``2026-01-01T00:00:00Z``: SQLite's text turned by slicing (the hot
    path of every temporal answer), PostgreSQL's datetime by ``isoformat``."""
    if isinstance(raw, str):
        fraction = raw[20:26]
        return f"{raw[:10]}T{raw[11:19]}{'' if fraction in ('', '000000') else '.' + fraction}Z"
    return stamp(raw)


def _instances(session: Session, series_id: int, win: Window) -> list[Instance]:
    """The instances of one series in the window, oldest first, read straight from the driver
    (SQLAlchemy's per-row conversions cost more than the query)."""
    sqlite = session.get_bind().dialect.name == "sqlite"
    mark = "?" if sqlite else "%s"

    def bound(moment: datetime) -> Any:
        moment = moment.astimezone(UTC)
        return moment.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds") \
            if sqlite else moment  # fmt: skip

    sql = ("SELECT observed_at, kind, value, number, extra FROM perception_attribute_instances "  # noqa: S608 -- only placeholders are put in
           f"WHERE series_id = {mark}")  # fmt: skip
    params: list[Any] = [series_id]
    if win.timerel == "before" and win.time_at:
        sql += f" AND observed_at < {mark}"
        params.append(bound(win.time_at))
    elif win.timerel == "after" and win.time_at:
        sql += f" AND observed_at > {mark}"
        params.append(bound(win.time_at))
    elif win.timerel == "between" and win.time_at and win.end_time_at:
        sql += f" AND observed_at >= {mark} AND observed_at < {mark}"
        params += [bound(win.time_at), bound(win.end_time_at)]
    if win.last_n:
        sql += f" ORDER BY observed_at DESC LIMIT {min(win.last_n, MOST)}"
    else:
        sql += f" ORDER BY observed_at LIMIT {MOST}"
    rows = list(session.connection().exec_driver_sql(sql, tuple(params)).fetchall())
    if win.last_n:
        rows.reverse()

    def decoded(raw: Any) -> Any:  # SQLite hands JSON back as text (a bare number as a number)
        return orjson.loads(raw) if sqlite and isinstance(raw, str) else raw

    return [Instance(_iso(r[0]), r[1], decoded(r[2]), r[3], decoded(r[4])) for r in rows]


def _aggregate(rows: list[Instance], win: Window) -> dict[str, list[list[Any]]]:
    if not rows:
        return {m: [] for m in win.methods}
    first = win.time_at or rows[0].observed_at
    first = first if first.tzinfo else first.replace(tzinfo=UTC)
    buckets: dict[int, list[Any]] = {}
    for row in rows:
        moment = row.observed_at if row.observed_at.tzinfo else row.observed_at.replace(tzinfo=UTC)
        index = int((moment - first) / win.period) if win.period else 0
        buckets.setdefault(index, []).append(row)
    out: dict[str, list[list[Any]]] = {m: [] for m in win.methods}
    last = rows[-1].observed_at if rows[-1].observed_at.tzinfo else \
        rows[-1].observed_at.replace(tzinfo=UTC)  # fmt: skip
    for index, items in sorted(buckets.items()):
        start = first + win.period * index if win.period else first
        end = start + win.period if win.period else (win.end_time_at or last)
        numbers = [r.number for r in items if r.number is not None]
        for method in win.methods:
            value: Any
            if method == "totalCount":
                value = len(items)
            elif method == "distinctCount":
                value = len({json.dumps(r.value, sort_keys=True) for r in items})
            elif not numbers:
                value = None
            elif method == "sum":
                value = sum(numbers)
            elif method == "avg":
                value = sum(numbers) / len(numbers)
            elif method == "min":
                value = min(numbers)
            elif method == "max":
                value = max(numbers)
            elif method == "sumsq":
                value = sum(n * n for n in numbers)
            else:  # stddev, of the population
                mean = sum(numbers) / len(numbers)
                value = math.sqrt(sum((n - mean) ** 2 for n in numbers) / len(numbers))
            out[method].append([value, stamp(start), stamp(end)])
    return out


def _attribute(rows: list[Instance], win: Window, names: dict[str, str], series_id: int) -> Any:
    kind = rows[0].kind if rows else "Property"
    if win.form == "temporalValues":
        key = "objects" if kind == "Relationship" else "values"
        return {"type": kind, key: [[r.value, r.stamp] for r in rows]}
    if win.form == "aggregatedValues":
        return {"type": kind, **_aggregate(rows, win)}
    out = []
    for r in rows:
        item: dict[str, Any] = {"type": r.kind}
        item["object" if r.kind == "Relationship" else "value"] = r.value
        item["observedAt"] = r.stamp
        item["instanceId"] = f"{INSTANCE}{series_id}:{r.stamp}"
        for k, v in (r.extra or {}).items():
            item[names.get(k, k)] = v
        out.append(item)
    return out


def query(
    session: Session,
    context: list[Any],
    win: Window,
    *,
    types: list[str] | None = None,
    ids: list[str] | None = None,
    id_pattern: str | None = None,
    attrs: list[str] | None = None,
    limit: int = 20,
    offset: int = 0,
    scope: ReadScope = EVERYONE,
    q: str | None = None,
    descending: bool = False,
) -> tuple[list[dict[str, Any]], int]:
    """Entities' histories in the reader's terms: one entry per entity, each attribute with its
    instances in the window; with ``q``, only entities whose instances in the window meet it
    (each condition by any instance of its attribute)."""
    stmt = select(AttributeSeries)
    visible = scope.clause(AttributeSeries.unit, AttributeSeries.entity_type)
    if visible is not None:
        stmt = stmt.where(visible)
    if types and "*" not in types:
        expanded = jsonld.expand_names(context, set(), set(types))[1]
        stmt = stmt.where(AttributeSeries.entity_type.in_(list(expanded.values())))
    if ids:
        stmt = stmt.where(AttributeSeries.entity_id.in_(ids))
    wanted = None
    if attrs:
        wanted = set(jsonld.expand_names(context, set(attrs), set())[0].values())
        stmt = stmt.where(AttributeSeries.attr.in_(wanted))
    series = list(session.scalars(stmt.order_by(AttributeSeries.entity_id, AttributeSeries.attr)))
    if id_pattern:
        try:
            pattern = re.compile(id_pattern)
        except re.error:
            raise BadRequestData("idPattern is a regular expression", field="idPattern") from None
        series = [s for s in series if pattern.search(s.entity_id)]
    by_entity: dict[str, list[AttributeSeries]] = {}
    for s in series:
        by_entity.setdefault(s.entity_id, []).append(s)
    if q:
        from citybase.perception.context.service import parse_q

        condition = parse_q(q, context)
        by_entity = {e: kept for e, kept in by_entity.items()
                     if query_language.holds(condition, _as_attrs(session, kept, win))}  # fmt: skip
    total = len(by_entity)
    ordered = list(by_entity.items())
    page = (ordered[::-1] if descending else ordered)[offset : offset + limit]
    return [_render(session, context, win, entity_id, kept) for entity_id, kept in page], total


def _as_attrs(session: Session, series: list[AttributeSeries], win: Window) -> dict[str, Any]:
    """An entity's instances in the window as attributes, each a list of its instances."""
    return {s.attr: [{"type": r.kind, ("object" if r.kind == "Relationship" else "value"): r.value,
                      "observedAt": r.stamp, **(r.extra or {})}
                     for r in _instances(session, s.id, win)] for s in series}  # fmt: skip


def _render(session: Session, context: list[Any], win: Window, entity_id: str,
            series: list[AttributeSeries]) -> dict[str, Any]:  # fmt: skip
    found = {s.attr: _instances(session, s.id, win) for s in series}
    ids = {s.attr: s.id for s in series}
    inner = {k for rows in found.values() for r in rows for k in (r.extra or {})}
    names, types = jsonld.compact_names(context, set(found) | inner, {series[0].entity_type})
    out: dict[str, Any] = {"id": entity_id, "type": types.get(series[0].entity_type)}
    for iri, rows in found.items():
        if rows or win.form == "aggregatedValues":
            out[names.get(iri, iri)] = _attribute(rows, win, names, ids[iri])
    return out


def retrieve(session: Session, entity_id: str, context: list[Any], win: Window,
             attrs: list[str] | None = None, scope: ReadScope = EVERYONE) -> dict[str, Any]:  # fmt: skip
    found, _ = query(session, context, win, ids=[entity_id], attrs=attrs, scope=scope)
    if not found:
        raise ResourceNotFound(f"no history of {entity_id}", field="id")
    return found[0]
