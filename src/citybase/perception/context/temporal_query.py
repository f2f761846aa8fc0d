"""Reading the history kept by ``temporal``: the NGSI-LD temporal queries.

Queries select by entity type, id or pattern, attributes and datasetId, a time relation
(``before``, ``after``, ``between``) and ``lastN``, and answer in the normalized temporal form,
as ``temporalValues`` (``[value, time]`` pairs, named by the kind: ``values``, ``objects``,
``languageMaps``, ``jsons``, ``vocabs``, ``valueLists``, ``objectLists``) or as
``aggregatedValues`` (per period of ``aggrPeriodDuration``: totalCount, distinctCount, sum, avg,
min, max, stddev, sumsq). Each datasetId of an attribute is its own series.

An answer holds at most ``limit`` instances in all (the broker's page of instances): when the
window holds more, the time range is cut where that many have been taken — oldest first, or
newest first with ``lastN`` — every attribute is answered up to that same moment (so that none
misses instances inside the range), and the answer is ``206 Partial Content`` with
``Content-Range: date-time <start>-<end>/<lastN or *>``.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from citybase.perception.context import entity_types, jsonld
from citybase.perception.context import query as query_language
from citybase.perception.context.models import AttributeSeries
from citybase.perception.context.service import (
    EVERYONE,
    BadRequestData,
    ReadScope,
    ResourceNotFound,
    stamp,
)
from citybase.perception.context.temporal import INSTANCE, _moment, member

AGGREGATES = ("totalCount", "distinctCount", "sum", "avg", "min", "max", "stddev", "sumsq")
MOST = 10_000  # instances in one answer, unless the operator sets another page of instances
DURATION = re.compile(
    r"^P(?:(?P<d>\d+)D)?(?:T(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)
# the member of the temporalValues form holding a kind's pairs
PAIRS = {"Property": "values", "GeoProperty": "values", "Relationship": "objects",
         "LanguageProperty": "languageMaps", "JsonProperty": "jsons", "VocabProperty": "vocabs",
         "ListProperty": "valueLists", "ListRelationship": "objectLists"}  # fmt: skip


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
    sys_attrs: bool = False  # an instance's expiresAt shown (6.3.11)


@dataclass(frozen=True)
class Range:
    """The part of the window an answer cut short holds (``Content-Range``)."""

    start: str
    end: str
    size: str  # lastN, or * without it
    emptied: frozenset[int] = frozenset()  # series with instances in the window, none in range

    @property
    def header(self) -> str:
        return f"date-time {self.start}-{self.end}/{self.size}"


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
    return Window(timerel, start, end, last_n, form, methods, period, "sysAttrs" in options)


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

    @property
    def payload(self) -> Any:
        """Its value in its kind's member (instances kept before the kinds had their own
        member held a LanguageProperty's map, a JsonProperty's json … among the others)."""
        key = member(self.kind)
        extra = self.extra or {}
        return extra[key] if self.value is None and key in extra else self.value


def _iso(raw: Any) -> str:
    """A stored time as ``2026-01-01T00:00:00Z``: SQLite's text turned by slicing (the hot
    path of every temporal answer), PostgreSQL's datetime by ``isoformat``."""
    if isinstance(raw, str):
        fraction = raw[20:26]
        return f"{raw[:10]}T{raw[11:19]}{'' if fraction in ('', '000000') else '.' + fraction}Z"
    return stamp(raw)


def _bounds(win: Window, sqlite: bool) -> tuple[str, list[Any]]:
    """The window as SQL conditions on observed_at, and their parameters."""
    mark = "?" if sqlite else "%s"

    def bound(moment: datetime) -> Any:
        moment = moment.astimezone(UTC)
        return moment.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds") \
            if sqlite else moment  # fmt: skip

    if win.timerel == "before" and win.time_at:
        return f" AND observed_at < {mark}", [bound(win.time_at)]
    if win.timerel == "after" and win.time_at:
        return f" AND observed_at >= {mark}", [bound(win.time_at)]
    if win.timerel == "between" and win.time_at and win.end_time_at:
        return f" AND observed_at >= {mark} AND observed_at < {mark}", \
            [bound(win.time_at), bound(win.end_time_at)]  # fmt: skip
    return "", []


def _instances(session: Session, series_id: int, win: Window, most: int = MOST) -> list[Instance]:
    """The instances of one series in the window, oldest first (at most ``most``: the oldest,
    or with ``lastN`` the newest), read straight from the driver (SQLAlchemy's per-row
    conversions cost more than the query)."""
    sqlite = session.get_bind().dialect.name == "sqlite"
    mark = "?" if sqlite else "%s"
    where, bounds = _bounds(win, sqlite)
    sql = ("SELECT observed_at, kind, value, number, extra FROM perception_attribute_instances "  # noqa: S608 -- only placeholders are put in
           f"WHERE series_id = {mark}{where}")  # fmt: skip
    params: list[Any] = [series_id, *bounds]
    if win.last_n:
        sql += f" ORDER BY observed_at DESC LIMIT {int(min(win.last_n, most))}"
    else:
        sql += f" ORDER BY observed_at LIMIT {int(most)}"
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
                value = len({json.dumps(r.payload, sort_keys=True) for r in items})
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


def _one(rows: list[Instance], kind: str, dataset: str, win: Window) -> dict[str, Any]:
    """One dataset of an attribute in the temporalValues or aggregatedValues form."""
    out: dict[str, Any] = {"type": kind}
    if dataset:
        out["datasetId"] = dataset
    if win.form == "temporalValues":
        key = member(kind)
        wrapped = key in ("languageMap", "json", "vocab")  # these pairs hold {member: value}
        out[PAIRS.get(kind, "values")] = [[{key: r.payload} if wrapped else r.payload, r.stamp]
                                          for r in rows]  # fmt: skip
    else:
        out.update(_aggregate(rows, win))
    return out


def _attribute(datasets: list[tuple[str, int, list[Instance]]], win: Window,
               names: dict[str, str]) -> Any:  # fmt: skip
    """An attribute's instances, of each of its datasets (default instance first)."""
    if win.form != "normalized":
        parts = [_one(rows, rows[0].kind if rows else "Property", dataset, win)
                 for dataset, _, rows in datasets]  # fmt: skip
        return parts[0] if len(parts) == 1 else parts
    out = []
    for dataset, series_id, rows in datasets:
        for r in rows:
            item: dict[str, Any] = {"type": r.kind, member(r.kind): r.payload}
            if dataset:
                item["datasetId"] = dataset
            item["observedAt"] = r.stamp
            item["instanceId"] = f"{INSTANCE}{series_id}:{r.stamp}"
            for k, v in (r.extra or {}).items():
                if k != "expiresAt" or win.sys_attrs:  # a system member (6.3.11)
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
    datasets: list[str] | None = None,
    limit: int = 20,
    offset: int = 0,
    scope: ReadScope = EVERYONE,
    q: str | None = None,
    scope_q: str | None = None,
    geo: tuple[str, str, str, str] | None = None,
    descending: bool = False,
    most: int = MOST,
) -> tuple[list[dict[str, Any]], int, Range | None]:
    """Entities' histories in the reader's terms: one entry per entity, each attribute with its
    instances in the window; with ``q``, only entities whose instances in the window meet it
    (each condition by any instance of its attribute); with ``geo`` (georel, geometry,
    coordinates, geoproperty), those with an instance of the GeoProperty in the window that
    stands in the relation; with ``scope_q``, those whose scope matched at some time in the
    window — and only their instances of those times; with ``datasets`` (``@none`` for the
    default instance), only the instances of those datasetIds. An entity with no instance in
    the window is not listed. At most ``most`` instances in all: the range of a cut answer
    comes back beside it (None when nothing was cut)."""
    stmt = select(AttributeSeries)
    visible = scope.clause(AttributeSeries.unit, AttributeSeries.entity_type)
    if visible is not None:  # a public type, first of the history's or any of its entity's
        stmt = stmt.where(or_(visible, scope.clause(AttributeSeries.unit,
                                                    entity_id=AttributeSeries.entity_id)))  # fmt: skip
    if types and "*" not in types:
        expanded = list(jsonld.expand_names(context, set(), set(types))[1].values())
        stmt = stmt.where(or_(AttributeSeries.entity_type.in_(expanded),
                              entity_types.of_types(expanded, AttributeSeries.entity_id)))  # fmt: skip
    if ids:
        stmt = stmt.where(AttributeSeries.entity_id.in_(ids))
    if attrs:
        wanted = set(jsonld.expand_names(context, set(attrs), set())[0].values())
        stmt = stmt.where(AttributeSeries.attr.in_(wanted))
    if datasets:
        stmt = stmt.where(AttributeSeries.dataset_id.in_(
            ["" if d == "@none" else d for d in datasets]))  # fmt: skip
    series = list(session.scalars(stmt.order_by(
        AttributeSeries.entity_id, AttributeSeries.attr, AttributeSeries.dataset_id)))  # fmt: skip
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
    if geo is not None:
        by_entity = _near(session, context, win, by_entity, geo)
    valid: dict[str, list[tuple[datetime | None, datetime | None]]] = {}
    if scope_q:
        by_entity, valid = _scoped(session, win, by_entity, scope_q)
    if win.timerel and len(ids or ()) != 1:  # a query lists only entities with instances in it
        present = _present(session, [s.id for kept in by_entity.values() for s in kept], win)
        by_entity = {e: kept for e, kept in by_entity.items()
                     if any(s.id in present for s in kept)}  # fmt: skip
    total = len(by_entity)
    ordered = list(by_entity.items())
    page = (ordered[::-1] if descending else ordered)[offset : offset + limit]
    paged = win.form != "aggregatedValues"  # an aggregate is over the whole window
    found = {entity_id: {s.id: _instances(session, s.id, win, most + 1 if paged else MOST)
                         for s in kept} for entity_id, kept in page}  # fmt: skip
    for entity_id, kept in page:
        if entity_id in valid:
            _within(found[entity_id], kept, valid[entity_id], session, win)
    cut = _cut(found, win, most) if paged else None
    emptied = cut.emptied if cut else frozenset()
    return [_render(context, win, entity_id, kept, found[entity_id], emptied)
            for entity_id, kept in page], total, cut  # fmt: skip


def _present(session: Session, series: list[int], win: Window) -> set[int]:
    """The series among these with an instance in the window."""
    sqlite = session.get_bind().dialect.name == "sqlite"
    mark = "?" if sqlite else "%s"
    where, params = _bounds(win, sqlite)
    out: set[int] = set()
    for start in range(0, len(series), 500):
        chunk = series[start : start + 500]
        sql = ("SELECT DISTINCT series_id FROM perception_attribute_instances WHERE series_id IN "  # noqa: S608 -- only placeholders are put in
               f"({', '.join([mark] * len(chunk))}){where}")  # fmt: skip
        rows = session.connection().exec_driver_sql(sql, (*chunk, *params)).fetchall()
        out.update(int(r[0]) for r in rows)
    return out


def _near(session: Session, context: list[Any], win: Window,
          by_entity: dict[str, list[AttributeSeries]],
          geo: tuple[str, str, str, str]) -> dict[str, list[AttributeSeries]]:  # fmt: skip
    """The entities with an instance of the GeoProperty, in the window, in the relation asked."""
    from citybase.perception.context.geo import geometry_matches, parse_geo

    relation, low, high, shape_ = parse_geo(geo[0], geo[1], geo[2])
    iri = jsonld.expand_names(context, {geo[3]}, set())[0][geo[3]]
    held: dict[str, list[int]] = {}
    for start in range(0, len(by_entity), 500):
        chunk = list(by_entity)[start : start + 500]
        for sid, entity_id in session.execute(select(AttributeSeries.id, AttributeSeries.entity_id)
                                              .where(AttributeSeries.entity_id.in_(chunk),
                                                     AttributeSeries.attr == iri)):  # fmt: skip
            held.setdefault(entity_id, []).append(sid)
    return {e: kept for e, kept in by_entity.items() if any(
        geometry_matches(r.payload, relation, low, high, shape_)
        for sid in held.get(e, []) for r in _instances(session, sid, win))}  # fmt: skip


Span = tuple[datetime | None, datetime | None]  # from (None: always) until (None: still)


def _scoped(session: Session, win: Window, by_entity: dict[str, list[AttributeSeries]],
            scope_q: str) -> tuple[dict[str, list[AttributeSeries]], dict[str, list[Span]]]:  # fmt: skip
    """The entities whose scope matched the scope query at some time in the window, and those
    times: a scope holds from the moment it was set until the next one replaced it."""
    from citybase.perception.context.service import SCOPE, parse_scope_q

    matches = parse_scope_q(scope_q)
    low = win.time_at if win.timerel in ("after", "between") else None
    high = win.end_time_at if win.timerel == "between" else \
        win.time_at if win.timerel == "before" else None  # fmt: skip
    upto = Window("before", high) if high else Window()
    kept: dict[str, list[AttributeSeries]] = {}
    spans: dict[str, list[Span]] = {}
    for entity_id, series in by_entity.items():
        own = [s for s in series if s.attr == SCOPE and not s.dataset_id]
        if not own:
            own = list(session.scalars(select(AttributeSeries).where(
                AttributeSeries.entity_id == entity_id, AttributeSeries.attr == SCOPE,
                AttributeSeries.dataset_id == "")))  # fmt: skip
        rows = _instances(session, own[0].id, upto) if own else []
        found: list[Span] = []
        for i, row in enumerate(rows):
            until = rows[i + 1].observed_at if i + 1 < len(rows) else None
            value = row.payload
            scopes = [value] if isinstance(value, str) else \
                [v for v in value if isinstance(v, str)] if isinstance(value, list) else []  # fmt: skip
            if (until is None or low is None or until > low) and matches(scopes):
                found.append((row.observed_at, until))
        if found:
            kept[entity_id] = series if own[0] in series else [*series, own[0]]
            spans[entity_id] = found
    return kept, spans


def _within(found: dict[int, list[Instance]], series: list[AttributeSeries], spans: list[Span],
            session: Session, win: Window) -> None:  # fmt: skip
    """Keep an entity's instances of the times its scope matched; its scope's own instances
    that held then, set before the window or not."""
    from citybase.perception.context.service import SCOPE

    def inside(moment: datetime) -> bool:
        return any((a is None or moment >= a) and (b is None or moment < b) for a, b in spans)

    for s in series:
        if s.attr == SCOPE and not s.dataset_id:
            high = win.end_time_at if win.timerel == "between" else \
                win.time_at if win.timerel == "before" else None  # fmt: skip
            rows = _instances(session, s.id, Window("before", high) if high else Window())
            found[s.id] = [r for r in rows if any(a == r.observed_at for a, _ in spans)]
        else:
            found[s.id] = [r for r in found.get(s.id, []) if inside(r.observed_at)]


def _cut(found: dict[str, dict[int, list[Instance]]], win: Window, most: int) -> Range | None:
    """Cut the instances found at the moment where ``most`` of them have been taken, in the
    window's order (oldest first; newest first with lastN); the range they then cover."""
    moments = sorted((r.observed_at for rows in (m for e in found.values() for m in e.values())
                      for r in rows), reverse=bool(win.last_n))  # fmt: skip
    if len(moments) <= most or most < 1:
        return None
    edge = moments[most - 1]
    emptied = set()
    for series in found.values():
        for key, rows in series.items():
            series[key] = [r for r in rows if (r.observed_at >= edge if win.last_n else
                                               r.observed_at <= edge)]  # fmt: skip
            if rows and not series[key]:
                emptied.add(key)
    size = str(win.last_n) if win.last_n else "*"
    if win.last_n:  # from the window's newest end down to the cut
        top = win.end_time_at if win.timerel == "between" else \
            win.time_at if win.timerel == "before" else None  # fmt: skip
        start = stamp(top) if top else stamp(moments[0])
    else:
        bottom = win.time_at if win.timerel in ("after", "between") else None
        start = stamp(bottom) if bottom else stamp(moments[0])
    return Range(start, stamp(edge), size, frozenset(emptied))


def _as_attrs(session: Session, series: list[AttributeSeries], win: Window) -> dict[str, Any]:
    """An entity's instances in the window as attributes, each a list of its instances."""
    out: dict[str, list[dict[str, Any]]] = {}
    for s in series:
        out.setdefault(s.attr, []).extend(
            {"type": r.kind, member(r.kind): r.payload, "observedAt": r.stamp,
             **({"datasetId": s.dataset_id} if s.dataset_id else {}), **(r.extra or {})}
            for r in _instances(session, s.id, win))  # fmt: skip
    return out


def _render(context: list[Any], win: Window, entity_id: str, series: list[AttributeSeries],
            found: dict[int, list[Instance]], emptied: frozenset[int]) -> dict[str, Any]:  # fmt: skip
    inner = {k for rows in found.values() for r in rows for k in (r.extra or {})}
    held = series[0].entity_types or [series[0].entity_type]
    names, types = jsonld.compact_names(context, {s.attr for s in series} | inner,
                                        set(held))  # fmt: skip
    shown = [types.get(t, t) for t in held]
    out: dict[str, Any] = {"id": entity_id, "type": shown[0] if len(shown) == 1 else shown}
    by_attr: dict[str, list[tuple[str, int, list[Instance]]]] = {}
    for s in series:
        rows = found.get(s.id)
        if rows is None:
            continue
        by_attr.setdefault(s.attr, []).append((s.dataset_id, s.id, rows))
    for iri, datasets in by_attr.items():
        kept = [d for d in datasets if d[2] or d[1] in emptied] or \
            (datasets if win.form == "aggregatedValues" else [])  # fmt: skip
        if kept:
            out[names.get(iri, iri)] = _attribute(kept, win, names)
    return out


def retrieve(session: Session, entity_id: str, context: list[Any], win: Window,
             attrs: list[str] | None = None, scope: ReadScope = EVERYONE,
             datasets: list[str] | None = None,
             most: int = MOST) -> tuple[dict[str, Any], Range | None]:  # fmt: skip
    found, _, cut = query(session, context, win, ids=[entity_id], attrs=attrs, scope=scope,
                          datasets=datasets, most=most)  # fmt: skip
    if not found:
        raise ResourceNotFound(f"no history of {entity_id}", field="id")
    return found[0], cut
