from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import (
    Select,
    Table,
    Text,
    case,
    cast,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from citybase.hub.cases.models import OPEN_POINTS, STAT_FIELDS, Case, CaseStat, CaseStep
from citybase.hub.cases.schemas import OPEN_STATES, CaseFilter


def add(session: Session, obj: object) -> None:
    session.add(obj)
    session.flush()


def by_number(session: Session, number: str) -> Case | None:
    return session.scalar(select(Case).where(Case.number == number))


def by_numbers(session: Session, numbers: list[str]) -> list[Case]:
    return list(session.scalars(select(Case).where(Case.number.in_(numbers))))


def steps(session: Session, case_id: int) -> list[CaseStep]:
    return list(session.scalars(
        select(CaseStep).where(CaseStep.case_id == case_id).order_by(CaseStep.at, CaseStep.id)
    ))  # fmt: skip


def open_near(
    session: Session, since: datetime, region_codes: list[str], exclude: int | None
) -> list[Case]:
    """Open cases taken in since ``since`` in any of these regions (matched at any level)."""
    query = select(Case).where(
        Case.accepted_at >= since,
        Case.state.in_([str(s) for s in OPEN_STATES]),
        or_(Case.region_code.in_(region_codes), Case.street_code.in_(region_codes),
            Case.community_code.in_(region_codes), Case.grid_code.in_(region_codes)),
    )  # fmt: skip
    if exclude is not None:
        query = query.where(Case.id != exclude)
    return list(session.scalars(query.order_by(Case.accepted_at.desc()).limit(500)))


_Query = TypeVar("_Query", bound=Select[*tuple[Any, ...]])


def _filtered(query: _Query, flt: CaseFilter, units: list[str] | None) -> _Query:
    if flt.state:
        query = query.where(Case.state.in_([str(s) for s in flt.state]))
    if flt.lead_unit:
        query = query.where(Case.lead_unit == flt.lead_unit)
    if flt.district_code:
        query = query.where(Case.district_code == flt.district_code)
    if flt.category_code:
        query = query.where(Case.category_code.startswith(flt.category_code, autoescape=True))
    if flt.warning:
        query = query.where(Case.warning == flt.warning)
    if flt.public:  # a one-thing matter is a person's own business with a unit, not a report
        query = query.where(Case.source != "work")
    if flt.within:
        r = flt.within
        query = query.where(or_(Case.district_code == r, Case.street_code == r,
                                Case.community_code == r, Case.grid_code == r,
                                Case.brain_code.startswith(r, autoescape=True)))  # fmt: skip
    if flt.numbers:
        query = query.where(Case.number.in_(flt.numbers))
    if flt.category_codes:
        query = query.where(Case.category_code.in_(flt.category_codes))
    if flt.phone:
        query = query.where(Case.reporter_phone == flt.phone)
    if flt.q:
        # autoescape: a % or _ in the words is looked for as itself, not as a wildcard
        query = query.where(or_(Case.text.contains(flt.q, autoescape=True),
                                Case.title.contains(flt.q, autoescape=True),
                                Case.address.contains(flt.q, autoescape=True),
                                Case.number == flt.q))  # fmt: skip
    if flt.accepted_from:
        query = query.where(Case.accepted_at >= flt.accepted_from)
    if flt.accepted_to:
        query = query.where(Case.accepted_at < flt.accepted_to)
    if flt.involving_unit:
        units = [flt.involving_unit] if units is None else [u for u in units
                                                             if u == flt.involving_unit]  # fmt: skip
    if units is not None:
        # a unit sees the cases it leads or supports (support units are few: a LIKE on the list)
        query = query.where(or_(Case.lead_unit.in_(units),
                                *[cast(Case.support_units, Text).contains(f'"{u}"', autoescape=True)
                                  for u in units]))  # fmt: skip
    return query


def find(session: Session, flt: CaseFilter, units: list[str] | None) -> tuple[list[Case], int]:
    query = _filtered(select(Case), flt, units)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(Case.accepted_at.desc(), Case.id.desc()).limit(flt.limit).offset(flt.offset)
    )
    return list(rows), total


def stream(session: Session, flt: CaseFilter, units: list[str] | None, most: int) -> Iterator[Case]:
    """The cases of ``find``, newest first, read a thousand at a time; at most ``most``."""
    query = _filtered(select(Case), flt, units).order_by(Case.accepted_at.desc(), Case.id.desc())
    yield from session.scalars(query.limit(most).execution_options(yield_per=1000))


GROUPS = {
    "unit": Case.lead_unit,
    "district": Case.district_code,
    "category": func.substr(Case.category_code, 1, 2),
}


def _stat_columns() -> list[Any]:
    """The counts behind the figures, as aggregates over cases (see ``models.STAT_FIELDS``)."""

    def count(condition: Any) -> Any:
        return func.sum(case((condition, 1), else_=0))

    return [
        func.count().label("cases"),
        count(Case.dispatched_at.is_not(None)).label("dispatched"),
        count(Case.signed_on_time.is_not(None)).label("signed"),
        count(Case.signed_on_time.is_(True)).label("signed_on_time"),
        count(Case.replied_on_time.is_not(None)).label("replied"),
        count(Case.replied_on_time.is_(True)).label("replied_on_time"),
        count(Case.return_count > 0).label("returned"),
        count((Case.reopen_count > 0) | Case.followed_up_at.is_not(None)).label("verdicts"),
        count(Case.reopen_count > 0).label("reopened"),
        count(Case.satisfaction != "").label("rated"),
        count(Case.satisfaction.in_(["satisfied", "basic"])).label("satisfied"),
        func.sum(Case.reopen_count).label("reopens"),
        count(Case.state == "closed").label("closed"),
        count(
            (Case.state == "closed")
            & (Case.return_count == 0)
            & (Case.reopen_count == 0)
            & (Case.reassign_count == 0)
        ).label("closed_first_time"),
        count(
            Case.dispatched_at.is_not(None) & (Case.reassign_count == 0) & (Case.return_count == 0)
        ).label("never_reassigned"),
        count(Case.warning == "red").label("overdue"),
    ]


def figures_from_cases(
    session: Session, by: str | None, since: datetime | None, until: datetime | None
) -> list[dict[str, Any]]:
    """The same counts as ``figures``, aggregated over the cases themselves (to check the kept
    counts against, and to rebuild them)."""
    key = GROUPS[by] if by else None
    columns = _stat_columns()
    selected: list[Any] = [key.label("key"), *columns] if key is not None else columns
    query: Select[Any] = select(*selected).where(*_CENTRES)
    if by == "unit":  # the cases never moved; the service adds the units' parts of the others
        query = query.where(*_UNMOVED)
    if since is not None:
        query = query.where(Case.accepted_at >= since)
    if until is not None:
        query = query.where(Case.accepted_at < until)
    if key is not None:
        query = query.group_by(key).order_by(key)
    return [dict(row._mapping) for row in session.execute(query)]


def figures(
    session: Session, by: str | None, since: str | None, until: str | None
) -> list[dict[str, Any]]:
    """The kept counts summed over the city's days of intake in [since, until)."""
    sums = [func.sum(getattr(CaseStat, f)).label(f) for f in STAT_FIELDS]
    selected: list[Any] = [CaseStat.key.label("key"), *sums] if by else sums
    query: Select[Any] = select(*selected).where(CaseStat.dim == (by or "all"))
    if since is not None:
        query = query.where(CaseStat.day >= since)
    if until is not None:
        query = query.where(CaseStat.day < until)
    if by:
        query = query.group_by(CaseStat.key).order_by(CaseStat.key)
    return [dict(row._mapping) for row in session.execute(query)]


def add_stats(session: Session, dim: str, day: str, key: str, delta: dict[str, int]) -> None:
    """Add ``delta`` to the counts kept for one day of one dimension's key."""
    table = CaseStat.__table__
    assert isinstance(table, Table)
    make = sqlite_insert if session.get_bind().dialect.name == "sqlite" else pg_insert
    statement = make(table).values(dim=dim, day=day, key=key, **delta)
    statement = statement.on_conflict_do_update(
        index_elements=["dim", "day", "key"],
        set_={f: table.c[f] + statement.excluded[f] for f in delta},
    )
    session.execute(statement)


# the cases the centre's figures count: not merged into another, not work another domain handed
# over (a one-thing matter's case is that service's, not a 12345 request)
_CENTRES = (Case.state != "merged", Case.source != "work")
# a case with a lead unit that was never returned or reassigned counts wholly for that unit
_UNMOVED = (Case.lead_unit != "", Case.return_count == 0, Case.reassign_count == 0)


# what a case's part in the kept counts is made of (read as rows, not entities: many are read)
_COUNTED = (Case.state, Case.source, Case.accepted_at, Case.district_code, Case.category_code,
            Case.lead_unit, Case.former_leads, Case.dispatched_at, Case.signed_on_time,
            Case.replied_on_time, Case.return_count, Case.reassign_count, Case.reopen_count,
            Case.followed_up_at, Case.satisfaction, Case.warning)  # fmt: skip


def moved(session: Session, since: datetime | None = None, until: datetime | None = None) -> Any:
    """The cases (not merged) that were returned or reassigned, taken in within [since, until),
    as rows of what their part in the kept counts is made of."""
    query = select(*_COUNTED).where(*_CENTRES, (Case.return_count > 0) | (Case.reassign_count > 0))
    if since is not None:
        query = query.where(Case.accepted_at >= since)
    if until is not None:
        query = query.where(Case.accepted_at < until)
    return session.execute(query.execution_options(yield_per=5000))


def _day(session: Session) -> Any:
    """A case's day of intake in the city (UTC+8), as YYYY-MM-DD."""
    if session.get_bind().dialect.name == "sqlite":
        return func.date(Case.accepted_at, "+8 hours")
    return func.to_char(func.timezone("Asia/Shanghai", Case.accepted_at), "YYYY-MM-DD")


def rebuild_stats(
    session: Session, extra: dict[tuple[str, str, str], dict[str, int]] | None = None
) -> int:
    """Count again from the cases what ``add_stats`` keeps, adding ``extra`` ((dim, day, key) →
    counts: what the database cannot sum, the moved cases' parts per unit); returns the rows
    written."""
    session.execute(delete(CaseStat))
    day = _day(session)
    written = 0
    dims: dict[str, Any] = {"all": literal(""), **GROUPS}
    for dim, key in dims.items():
        query = (
            select(day.label("day"), key.label("key"), *_stat_columns())
            .where(*_CENTRES, *(_UNMOVED if dim == "unit" else ()))
            .group_by(day, key)
        )
        rows = {(dim, r.day, r.key): dict(r._mapping, dim=dim) for r in session.execute(query)}
        for (d, k_day, k_key), counts in (extra or {}).items():
            if d != dim:
                continue
            row = rows.setdefault((d, k_day, k_key), {"dim": d, "day": k_day, "key": k_key,
                                                       **dict.fromkeys(STAT_FIELDS, 0)})  # fmt: skip
            for field, n in counts.items():
                row[field] = (row[field] or 0) + n
        values = list(rows.values())
        for start in range(0, len(values), 10_000):
            session.execute(insert(CaseStat), values[start : start + 10_000])
        written += len(values)
    return written


def watched(session: Session) -> list[Case]:
    """Open cases with a stage deadline running: waiting to be signed for, or being handled."""
    return list(session.scalars(select(Case).where(
        Case.state.in_(["dispatched", "signed", "handling"]), Case.handle_due.is_not(None)
    )))  # fmt: skip


def closed_examples(session: Session, limit: int) -> list[tuple[str, str, str]]:
    """(text, final category, final lead unit) of the newest closed cases with a category."""
    rows = session.execute(
        select(Case.text, Case.category_code, Case.lead_unit)
        .where(Case.state == "closed", Case.category_code != "")
        .order_by(Case.closed_at.desc())
        .limit(limit)
    )
    return [(text, category, unit) for text, category, unit in rows]


def counts(
    session: Session, since: datetime, until: datetime, prefix: int
) -> dict[tuple[str, str], int]:
    """Cases taken in in [since, until) by (category code's first ``prefix`` characters,
    district), merged duplicates left out."""
    key = func.substr(Case.category_code, 1, prefix)
    rows = session.execute(
        select(key, Case.district_code, func.count())
        .where(Case.accepted_at >= since, Case.accepted_at < until, Case.category_code != "",
               Case.district_code != "", Case.state != "merged")
        .group_by(key, Case.district_code)
    )  # fmt: skip
    return {(str(c), str(d)): int(n) for c, d, n in rows}


def recent_numbers(
    session: Session, category: str, district: str, since: datetime, limit: int = 20
) -> list[str]:
    return list(session.scalars(
        select(Case.number).where(Case.category_code.startswith(category, autoescape=True),
                                  Case.district_code == district, Case.accepted_at >= since)
        .order_by(Case.accepted_at.desc()).limit(limit)
    ))  # fmt: skip


def open_for_device(session: Session, device_id: str) -> Case | None:
    return session.scalar(
        select(Case).where(Case.device_id == device_id,
                           Case.state.in_([str(s) for s in OPEN_STATES]))
        .order_by(Case.accepted_at.desc()).limit(1)
    )  # fmt: skip


def per_day(session: Session, since: datetime, within: str = "") -> list[tuple[str, int]]:
    """Cases taken in per day (UTC+8) since ``since``."""
    day = _day(session)
    query = select(day, func.count()).where(Case.accepted_at >= since, Case.state != "merged")
    if within:
        query = query.where(Case.district_code == within)
    return [(str(d), int(n)) for d, n in session.execute(query.group_by(day).order_by(day))]


def by_district(session: Session, flt: CaseFilter, units: list[str] | None) -> dict[str, int]:
    """district → how many of the cases ``find`` would list."""
    query = _filtered(select(Case.district_code, func.count()), flt, units)
    return {str(d or ""): int(n) for d, n in session.execute(query.group_by(Case.district_code))}


def per_day_by_category(
    session: Session, flt: CaseFilter, units: list[str] | None, since: datetime
) -> list[tuple[str, str, int]]:
    """Of the cases ``find`` would list, those taken in per day (UTC+8) and 大类 (the category
    code's first two digits) since ``since``."""
    day = _day(session)
    major = GROUPS["category"]
    query = _filtered(select(day, major, func.count()), flt, units).where(
        Case.accepted_at >= since, Case.state != "merged"
    )
    rows = session.execute(query.group_by(day, major).order_by(day))
    return [(str(d), str(c or ""), int(n)) for d, c, n in rows]


def placed(
    session: Session, flt: CaseFilter, units: list[str] | None, limit: int
) -> list[tuple[str, float, float, str]]:
    """Of the cases ``find`` would list, the newest ``limit`` with coordinates: (number, lon,
    lat, warning)."""
    query = _filtered(select(Case.number, Case.lon, Case.lat, Case.warning), flt, units).where(
        Case.lon.is_not(None), Case.lat.is_not(None)
    )
    rows = session.execute(query.order_by(Case.accepted_at.desc()).limit(limit))
    return [(str(n), x, y, str(w or "")) for n, x, y, w in rows if x is not None and y is not None]


def open_points(session: Session, limit: int) -> list[tuple[str, float, float, str]]:
    """Open cases with coordinates, the newest first: (number, lon, lat, warning). The condition
    is written as the partial index has it, so that the index serves it."""
    rows = session.execute(
        select(Case.number, Case.lon, Case.lat, Case.warning).where(text(OPEN_POINTS))
        .order_by(Case.accepted_at.desc()).limit(limit)
    )  # fmt: skip
    return [(str(n), x, y, str(w or "")) for n, x, y, w in rows if x is not None and y is not None]


def open_by_district(session: Session) -> dict[str, tuple[int, int, int]]:
    """district → (open cases, yellow, red)."""
    rows = session.execute(
        select(Case.district_code, func.count(),
               func.sum(case((Case.warning == "yellow", 1), else_=0)),
               func.sum(case((Case.warning == "red", 1), else_=0)))
        .where(Case.state.in_([str(s) for s in OPEN_STATES]))
        .group_by(Case.district_code)
    )  # fmt: skip
    return {str(d): (int(n), int(y or 0), int(r or 0)) for d, n, y, r in rows}


def closed_support(session: Session, since: datetime, until: datetime) -> Iterator[list[Any]]:
    """The support units of every case taken in from ``since`` up to ``until`` and closed."""
    query = select(Case.support_units).where(
        Case.accepted_at >= since, Case.accepted_at < until, Case.closed_at.is_not(None)
    )
    for (units,) in session.execute(query.execution_options(yield_per=2_000)):
        yield list(units or [])


def closed_between(
    session: Session, since: datetime, until: datetime, limit: int
) -> list[tuple[str, str, str, str, datetime]]:
    """(number, text, final category, final lead unit, closed at) of the cases closed in
    [since, until) with a category, oldest first."""
    rows = session.execute(
        select(Case.number, Case.text, Case.category_code, Case.lead_unit, Case.closed_at)
        .where(Case.state == "closed", Case.category_code != "",
               Case.closed_at >= since, Case.closed_at < until)
        .order_by(Case.closed_at)
        .limit(limit)
    )  # fmt: skip
    return [(n, t, c, u, at) for n, t, c, u, at in rows if at is not None]


def moving_steps(
    session: Session, actions: tuple[str, ...], since: datetime, until: datetime, limit: int
) -> list[tuple[Case, list[CaseStep]]]:
    """Cases with a step among ``actions`` in [since, until), each with all its steps of those
    actions in order (the later ones say whether an earlier one was undone)."""
    ids = select(CaseStep.case_id).where(
        CaseStep.action.in_(actions), CaseStep.at >= since, CaseStep.at < until
    ).distinct()  # fmt: skip
    cases = list(session.scalars(
        select(Case).where(Case.id.in_(ids)).order_by(Case.accepted_at.desc()).limit(limit)
    ))  # fmt: skip
    if not cases:
        return []
    steps: dict[int, list[CaseStep]] = {c.id: [] for c in cases}
    for step in session.scalars(
        select(CaseStep).where(CaseStep.case_id.in_(list(steps)), CaseStep.action.in_(actions))
        .order_by(CaseStep.at, CaseStep.id)
    ):  # fmt: skip
        steps[step.case_id].append(step)
    return [(c, steps[c.id]) for c in cases]


def categories_of(session: Session, numbers: list[str]) -> dict[str, str]:
    if not numbers:
        return {}
    rows = session.execute(select(Case.number, Case.category_code).where(Case.number.in_(numbers)))
    return {n: c for n, c in rows}
