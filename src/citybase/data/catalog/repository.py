"""Every query on the catalog's tables."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import and_, delete, func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from citybase.data.catalog.models import DataItem, DataResource, DataResourceVersion
from citybase.data.catalog.schemas import ResourceFilter


def add(session: Session, obj: object) -> None:
    session.add(obj)
    session.flush()


def get_by_code(session: Session, code: str) -> DataResource | None:
    return session.scalars(select(DataResource).where(DataResource.code == code)).first()


def next_sequence(session: Session, classification: str) -> int:
    """The next 顺序码 within one classification."""
    codes = session.scalars(
        select(DataResource.code).where(DataResource.code.startswith(f"{classification}-"))
    ).all()
    return max((int(c.rsplit("-", 1)[1]) for c in codes), default=0) + 1


def items_of(session: Session, resource_ids: Iterable[int]) -> dict[int, list[DataItem]]:
    ids = list(resource_ids)
    result: dict[int, list[DataItem]] = {i: [] for i in ids}
    if ids:
        rows = session.scalars(
            select(DataItem).where(DataItem.resource_id.in_(ids)).order_by(DataItem.position)
        )
        for item in rows:
            result[item.resource_id].append(item)
    return result


def replace_items(session: Session, resource_id: int, items: Sequence[dict[str, Any]]) -> None:
    session.execute(delete(DataItem).where(DataItem.resource_id == resource_id))
    for position, item in enumerate(items):
        session.add(DataItem(resource_id=resource_id, position=position, **item))
    session.flush()


def find(
    session: Session,
    flt: ResourceFilter,
    *,
    visible: ColumnElement[bool],
    region_codes: set[str] | None,
) -> tuple[list[DataResource], int]:
    query = select(DataResource).where(visible)
    if flt.q:
        query = query.where(
            or_(
                DataResource.name.icontains(flt.q, autoescape=True),
                DataResource.abstract.icontains(flt.q, autoescape=True),
                DataResource.code.icontains(flt.q, autoescape=True),
            )
        )
    if flt.unit:
        query = query.where(DataResource.provider_unit_code == flt.unit)
    if region_codes is not None:
        query = query.where(DataResource.region_code.in_(sorted(region_codes)))
    for column, value in (
        (DataResource.status, flt.status),
        (DataResource.share_type, flt.share_type),
        (DataResource.open_type, flt.open_type),
    ):
        if value is not None:
            query = query.where(column == value.value)
    rows = list(session.scalars(query.order_by(DataResource.code)))
    # tags are JSON lists: filtered here, the same way on every database
    if flt.base is not None:
        rows = [r for r in rows if flt.base.value in r.base_tags]
    if flt.theme:
        rows = [r for r in rows if flt.theme in r.theme_tags]
    return rows[flt.offset : flt.offset + flt.limit], len(rows)


def visibility(
    unit_code: str, *, everything: bool, reviewer: bool, public_states: Sequence[str]
) -> ColumnElement[bool]:
    """Registered and published resources for all; drafts for their unit; the rest for reviewers."""
    if everything:
        return DataResource.id.is_not(None)
    clauses: list[ColumnElement[bool]] = [
        DataResource.status.in_(public_states),
        DataResource.provider_unit_code == unit_code,
    ]
    if reviewer:
        clauses.append(DataResource.status != "draft")
    return or_(*clauses)


def versions(session: Session, resource_id: int) -> list[DataResourceVersion]:
    return list(
        session.scalars(
            select(DataResourceVersion)
            .where(DataResourceVersion.resource_id == resource_id)
            .order_by(DataResourceVersion.version.desc())
        )
    )


def version(session: Session, resource_id: int, number: int) -> DataResourceVersion | None:
    return session.scalars(
        select(DataResourceVersion).where(
            and_(
                DataResourceVersion.resource_id == resource_id,
                DataResourceVersion.version == number,
            )
        )
    ).first()


def count_by_status(session: Session) -> dict[str, int]:
    rows = session.execute(select(DataResource.status, func.count()).group_by(DataResource.status))
    return {status: n for status, n in rows}


def in_states(session: Session, states: Sequence[str]) -> list[DataResource]:
    return list(
        session.scalars(
            select(DataResource).where(DataResource.status.in_(states)).order_by(DataResource.code)
        )
    )


def names(session: Session, codes: Iterable[str]) -> dict[str, str]:
    wanted = set(codes)
    if not wanted:
        return {}
    rows = session.execute(
        select(DataResource.code, DataResource.name).where(DataResource.code.in_(wanted))
    )
    return {code: name for code, name in rows}


def all_codes(session: Session) -> list[str]:
    return list(session.scalars(select(DataResource.code).order_by(DataResource.code)))


def count_by_region(session: Session, *, visible: ColumnElement[bool]) -> dict[str, int]:
    """region code → how many of the visible resources it catalogues."""
    query = (select(DataResource.region_code, func.count()).where(visible)
             .group_by(DataResource.region_code))  # fmt: skip
    return {str(code): int(n) for code, n in session.execute(query)}
