from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Select, Table, func, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from citybase.perception.telemetry.models import DeadLetter, Latest, Reading, Series


def _insert(session: Session, model: type[Any]) -> Any:
    table = model.__table__
    assert isinstance(table, Table)
    make = sqlite_insert if session.get_bind().dialect.name == "sqlite" else pg_insert
    return make(table)


def series_ids(session: Session, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """The series of these (device, attribute) pairs, made where they do not exist yet."""
    wanted = set(keys)
    devices = {d for d, _ in wanted}
    found = {(d, a): i for i, d, a in session.execute(
        select(Series.id, Series.device_id, Series.attr).where(Series.device_id.in_(devices)))}  # fmt: skip
    missing = wanted - found.keys()
    if missing:
        statement = _insert(session, Series).on_conflict_do_nothing(
            index_elements=["device_id", "attr"])  # fmt: skip
        session.execute(statement, [{"device_id": d, "attr": a} for d, a in sorted(missing)])
        found |= {(d, a): i for i, d, a in session.execute(
            select(Series.id, Series.device_id, Series.attr).where(
                Series.device_id.in_({d for d, _ in missing})))}  # fmt: skip
    return {k: found[k] for k in wanted}


_ADD = {
    "sqlite": "INSERT OR IGNORE INTO perception_readings (series_id, ts, value, text) "
              "VALUES (?, ?, ?, ?)",
    "postgresql": "INSERT INTO perception_readings (series_id, ts, value, text) "
                  "VALUES (%s, %s, %s, %s) ON CONFLICT (series_id, ts) DO NOTHING",
}  # fmt: skip


def add_readings(session: Session, rows: list[tuple[int, int, float | None, str | None]]) -> None:
    """Store readings (series, time in ms, number, text); one already stored (same series and
    time) is left as it was. Straight to the driver's executemany: building SQLAlchemy's
    parameters for every row cost as much as the insert itself."""
    dialect = session.get_bind().dialect.name
    session.connection().exec_driver_sql(_ADD[dialect], rows)


_LATEST = (
    "INSERT INTO perception_latest (series_id, ts, value, text) VALUES ({p}, {p}, {p}, {p}) "
    "ON CONFLICT (series_id) DO UPDATE SET ts = excluded.ts, value = excluded.value, "
    "text = excluded.text WHERE perception_latest.ts <= excluded.ts"
)


def set_latest(session: Session, rows: list[tuple[int, int, float | None, str | None]]) -> None:
    """The newest of these (series, time in ms, number, text) per series becomes its latest,
    unless a newer one is there. Straight to the driver, as ``add_readings``."""
    dialect = session.get_bind().dialect.name
    statement = _LATEST.format(p="?" if dialect == "sqlite" else "%s")
    session.connection().exec_driver_sql(statement, rows)


def plain_insert(session: Session, rows: list[dict[str, Any]]) -> None:
    session.execute(insert(Reading), rows)


def series_of(session: Session, device_id: str) -> dict[str, int]:
    return {a: i for i, a in session.execute(
        select(Series.id, Series.attr).where(Series.device_id == device_id))}  # fmt: skip


def latest(session: Session, device_id: str) -> list[tuple[str, int, float | None, str | None]]:
    return [(a, ts, v, t) for a, ts, v, t in session.execute(
        select(Series.attr, Latest.ts, Latest.value, Latest.text)
        .join(Latest, Latest.series_id == Series.id)
        .where(Series.device_id == device_id).order_by(Series.attr))]  # fmt: skip


def latest_all(session: Session) -> list[tuple[str, str, int, float | None]]:
    return [(d, a, ts, v) for d, a, ts, v in session.execute(
        select(Series.device_id, Series.attr, Latest.ts, Latest.value)
        .join(Latest, Latest.series_id == Series.id))]  # fmt: skip


def points(
    session: Session, series_id: int, start: int | None, end: int | None, last: int | None
) -> list[tuple[int, float | None, str | None]]:
    query: Select[Any] = select(Reading.ts, Reading.value, Reading.text)  # type: ignore[assignment]
    query = query.where(Reading.series_id == series_id)
    if start is not None:
        query = query.where(Reading.ts >= start)
    if end is not None:
        query = query.where(Reading.ts < end)
    if last is not None:
        rows = session.execute(query.order_by(Reading.ts.desc()).limit(last)).all()
        return [(ts, v, t) for ts, v, t in reversed(rows)]
    return [(ts, v, t) for ts, v, t in session.execute(query.order_by(Reading.ts))]


AGGREGATES: dict[str, Any] = {"avg": func.avg, "min": func.min, "max": func.max,
                              "sum": func.sum}  # fmt: skip


def buckets(
    session: Session, series_id: int, start: int, end: int, every_ms: int, agg: str
) -> list[tuple[int, float | None, int]]:
    bucket = (Reading.ts - start) // every_ms  # floor division on every dialect
    value = func.count(Reading.value) if agg == "count" else AGGREGATES[agg](Reading.value)
    rows = session.execute(
        select(bucket, value, func.count(Reading.value))
        .where(Reading.series_id == series_id, Reading.ts >= start, Reading.ts < end)
        .group_by(bucket).order_by(bucket)
    )  # fmt: skip
    return [(start + int(b) * every_ms, None if v is None else float(v), int(n))
            for b, v, n in rows]  # fmt: skip


def add_dead_letter(session: Session, **values: Any) -> None:
    session.add(DeadLetter(**values))
    session.flush()


def dead_letters(
    session: Session, offset: int, limit: int, device_ids: list[str] | None
) -> tuple[int, list[DeadLetter]]:
    """A page of dead letters, newest first, and how many there are (of these devices only,
    unless None)."""
    where = [] if device_ids is None else [DeadLetter.device_id.in_(device_ids)]
    total = session.scalar(select(func.count()).select_from(DeadLetter).where(*where)) or 0
    rows = session.scalars(select(DeadLetter).where(*where).order_by(
        DeadLetter.received_at.desc(), DeadLetter.id.desc()).offset(offset).limit(limit))  # fmt: skip
    return total, list(rows)
