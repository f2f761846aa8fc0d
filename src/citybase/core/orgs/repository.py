"""Every query on regions and units."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from citybase.core.orgs.models import Region, Unit


def get_region(session: Session, code: str) -> Region | None:
    return session.get(Region, code)


def get_regions(session: Session, codes: Iterable[str]) -> dict[str, Region]:
    wanted = list(set(codes))
    if not wanted:
        return {}
    return {r.code: r for r in session.scalars(select(Region).where(Region.code.in_(wanted)))}


def list_regions(
    session: Session, *, level: str | None = None, parent_code: str | None = None
) -> list[Region]:
    query = select(Region).order_by(Region.sort_order, Region.code)
    if level:
        query = query.where(Region.level == level)
    if parent_code:
        query = query.where(Region.parent_code == parent_code)
    return list(session.scalars(query))


def all_regions(session: Session) -> list[Region]:
    return list(session.scalars(select(Region).order_by(Region.sort_order, Region.code)))


def children(session: Session, code: str) -> list[Region]:
    return list_regions(session, parent_code=code)


def add(session: Session, obj: object) -> None:
    session.add(obj)
    session.flush()


def get_unit(session: Session, unit_id: int) -> Unit | None:
    return session.get(Unit, unit_id)


def get_unit_by_code(session: Session, code: str) -> Unit | None:
    return session.scalars(select(Unit).where(Unit.code == code)).first()


def get_unit_by_credit_code(session: Session, credit_code: str) -> Unit | None:
    return session.scalars(select(Unit).where(Unit.credit_code == credit_code)).first()


def get_units(session: Session, ids: Iterable[int]) -> dict[int, Unit]:
    wanted = list(set(ids))
    if not wanted:
        return {}
    return {u.id: u for u in session.scalars(select(Unit).where(Unit.id.in_(wanted)))}


def region_names(session: Session, codes: Iterable[str]) -> dict[str, str]:
    wanted = sorted(set(codes))
    if not wanted:
        return {}
    rows = session.execute(select(Region.code, Region.name).where(Region.code.in_(wanted)))
    return {code: name for code, name in rows}


def unit_names(session: Session, codes: Iterable[str]) -> dict[str, str]:
    wanted = sorted(set(codes))
    if not wanted:
        return {}
    rows = session.execute(select(Unit.code, Unit.name).where(Unit.code.in_(wanted)))
    return {code: name for code, name in rows}


def list_units(
    session: Session,
    *,
    region_codes: Iterable[str] | None = None,
    search: str = "",
    active: bool | None = None,
    kind: str | None = None,
) -> list[Unit]:
    query = select(Unit).order_by(Unit.region_code, Unit.code)
    if kind is not None:
        query = query.where(Unit.kind == kind)
    if region_codes is not None:
        query = query.where(Unit.region_code.in_(list(region_codes)))
    if search:
        query = query.where(
            or_(
                Unit.name.icontains(search, autoescape=True),
                Unit.short_name.icontains(search, autoescape=True),
                Unit.code.icontains(search, autoescape=True),
            )
        )
    if active is not None:
        query = query.where(Unit.active == active)
    return list(session.scalars(query))
