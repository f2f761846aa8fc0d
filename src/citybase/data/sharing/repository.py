"""Every query on sharing's tables."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, case, func, or_, select, text
from sqlalchemy.orm import Session

from citybase.data.sharing.models import (
    Demand,
    DemandAnswer,
    RecentAccessSubject,
    ShareAccess,
    ShareAccessSubject,
    ShareGrant,
    ShareRequest,
)
from citybase.data.sharing.schemas import AccessFilter


def add(session: Session, obj: object) -> None:
    session.add(obj)
    session.flush()


def request_by_number(session: Session, number: str) -> ShareRequest | None:
    return session.scalars(select(ShareRequest).where(ShareRequest.number == number)).first()


def count_with_prefix(session: Session, prefix: str) -> int:
    query = (
        select(func.count()).select_from(ShareRequest).where(ShareRequest.number.startswith(prefix))
    )
    return session.scalar(query) or 0


def requests(session: Session, *, unit_code: str | None, status: str | None) -> list[ShareRequest]:
    """Requests made by or made to the unit (every request when no unit is given)."""
    query = select(ShareRequest)
    if unit_code is not None:
        query = query.where(
            or_(
                ShareRequest.consumer_unit_code == unit_code,
                ShareRequest.provider_unit_code == unit_code,
            )
        )
    if status:
        query = query.where(ShareRequest.status == status)
    return list(session.scalars(query.order_by(ShareRequest.id.desc()).limit(500)))


def grant(session: Session, grant_id: int) -> ShareGrant | None:
    return session.get(ShareGrant, grant_id)


def all_grants(session: Session) -> list[ShareGrant]:
    return list(session.scalars(select(ShareGrant)))


def grants(
    session: Session, *, unit_code: str | None, resource_code: str | None = None
) -> list[ShareGrant]:
    query = select(ShareGrant)
    if unit_code is not None:
        query = query.where(
            or_(
                ShareGrant.consumer_unit_code == unit_code,
                ShareGrant.provider_unit_code == unit_code,
            )
        )
    if resource_code is not None:
        query = query.where(ShareGrant.resource_code == resource_code)
    return list(session.scalars(query.order_by(ShareGrant.id.desc()).limit(500)))


def request_numbers(session: Session, ids: list[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = session.execute(
        select(ShareRequest.id, ShareRequest.number).where(ShareRequest.id.in_(ids))
    )
    return {i: n for i, n in rows}


def request_by_id(session: Session, request_id: int) -> ShareRequest | None:
    return session.get(ShareRequest, request_id)


_INSERT_SUBJECT = "INSERT INTO share_access_subjects_recent (access_id, subject) VALUES (?, ?)"
_INSERT_SUBJECT_PG = "INSERT INTO share_access_subjects_recent (access_id, subject) VALUES (%s, %s)"
# filed in subject order, so that each page of the index is written once per batch
_FILE_SUBJECTS = (
    "INSERT INTO share_access_subjects (subject, access_id) "
    "SELECT subject, access_id FROM share_access_subjects_recent WHERE access_id <= :last "
    "ORDER BY subject, access_id"
)
_FILED = "DELETE FROM share_access_subjects_recent WHERE access_id <= :last"


def add_subjects(session: Session, access_id: int, subjects: list[str]) -> None:
    """A read's subjects, in tag order (sorted: the tree's pages fill in order)."""
    if not subjects:
        return
    # straight to the driver's executemany: a read can serve thousands of subjects, and
    # SQLAlchemy's per-row parameter handling costs more than the inserts themselves
    postgres = session.get_bind().dialect.name == "postgresql"
    session.connection().exec_driver_sql(
        _INSERT_SUBJECT_PG if postgres else _INSERT_SUBJECT,
        [(access_id, s) for s in sorted(subjects)],
    )


def file_subjects(session: Session, up_to: int) -> int:
    """Move the subjects of the oldest recent reads into the subject index: every read up to
    the ``up_to``-th oldest one still waiting. Returns how many entries moved."""
    last = session.scalar(
        select(RecentAccessSubject.access_id)
        .distinct()
        .order_by(RecentAccessSubject.access_id)
        .offset(up_to - 1)
        .limit(1)
    )
    if last is None:
        last = session.scalar(select(func.max(RecentAccessSubject.access_id)))
    if last is None:
        return 0
    moved = session.connection().execute(text(_FILE_SUBJECTS), {"last": last}).rowcount
    session.connection().execute(text(_FILED), {"last": last})
    return int(moved)


def recent_subjects(session: Session) -> int:
    found = session.scalar(select(func.count()).select_from(RecentAccessSubject))
    return found or 0


def accesses(
    session: Session, flt: AccessFilter, *, unit_code: str | None, subject: str | None
) -> tuple[int, list[ShareAccess]]:
    """Accesses matching ``flt``; with ``unit_code``, only those by or of that unit."""
    where: list[ColumnElement[bool]] = []
    if unit_code is not None:
        where.append(
            or_(
                ShareAccess.consumer_unit_code == unit_code,
                ShareAccess.provider_unit_code == unit_code,
            )
        )
    for column, value in (
        (ShareAccess.resource_code, flt.resource),
        (ShareAccess.provider_unit_code, flt.provider),
        (ShareAccess.consumer_unit_code, flt.consumer),
        (ShareAccess.case_number, flt.case_number),
        (ShareAccess.outcome, flt.outcome.value if flt.outcome else None),
    ):
        if value:
            where.append(column == value)
    if flt.user:
        where.append(or_(ShareAccess.username == flt.user, ShareAccess.end_user == flt.user))
    if flt.since:
        where.append(ShareAccess.at >= flt.since)
    if flt.until:
        where.append(ShareAccess.at < flt.until)
    if subject is not None:
        filed = select(ShareAccessSubject.access_id).where(ShareAccessSubject.subject == subject)
        recent = select(RecentAccessSubject.access_id).where(RecentAccessSubject.subject == subject)
        where.append(or_(ShareAccess.id.in_(filed), ShareAccess.id.in_(recent)))
    total = session.scalar(select(func.count()).select_from(ShareAccess).where(*where)) or 0
    found = session.scalars(
        select(ShareAccess)
        .where(*where)
        .order_by(ShareAccess.id.desc())
        .limit(flt.limit)
        .offset(flt.offset)
    )
    return total, list(found)


def access_summary(
    session: Session, unit_code: str | None, *, as_provider: bool, resource_code: str | None = None
) -> list[tuple[str, str, int, int, int, datetime]]:
    """(other unit, resource, allowed, refused, rows, last read) for the unit's reads."""
    mine, other = (
        (ShareAccess.provider_unit_code, ShareAccess.consumer_unit_code)
        if as_provider
        else (ShareAccess.consumer_unit_code, ShareAccess.provider_unit_code)
    )
    allowed = func.sum(case((ShareAccess.outcome == "allowed", 1), else_=0))
    query = select(
        other, ShareAccess.resource_code, allowed,
        func.count() - allowed, func.sum(ShareAccess.rows), func.max(ShareAccess.at),
    ).group_by(other, ShareAccess.resource_code)  # fmt: skip
    if unit_code is not None:
        query = query.where(mine == unit_code)
    if resource_code is not None:
        query = query.where(ShareAccess.resource_code == resource_code)
    query = query.order_by(func.max(ShareAccess.at).desc()).limit(500)
    return [
        (o, c, int(a or 0), int(r or 0), int(n or 0), t)
        for o, c, a, r, n, t in session.execute(query)
    ]


def accesses_by_ids(session: Session, ids: list[int]) -> list[ShareAccess]:
    return list(session.scalars(select(ShareAccess).where(ShareAccess.id.in_(ids))))


def demand_by_number(session: Session, number: str) -> Demand | None:
    return session.scalars(select(Demand).where(Demand.number == number)).first()


def count_demands_with_prefix(session: Session, prefix: str) -> int:
    query = select(func.count()).select_from(Demand).where(Demand.number.startswith(prefix))
    return session.scalar(query) or 0


def demands(session: Session, *, status: str | None, unit: str | None) -> list[Demand]:
    query = select(Demand)
    if status:
        query = query.where(Demand.status == status)
    if unit:
        query = query.where(
            or_(Demand.consumer_unit_code == unit, Demand.provider_unit_code == unit)
        )
    return list(session.scalars(query.order_by(Demand.id.desc()).limit(500)))


def answers(session: Session, demand_id: int) -> list[DemandAnswer]:
    return list(
        session.scalars(
            select(DemandAnswer)
            .where(DemandAnswer.demand_id == demand_id)
            .order_by(DemandAnswer.id)
        )
    )


def access_count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(ShareAccess)) or 0


def ledger_seqs_of_subject(session: Session, subject: str) -> set[int]:
    """The ledger entries of the reads that served a data subject (by its keyed hash)."""
    filed = select(ShareAccessSubject.access_id).where(ShareAccessSubject.subject == subject)
    recent = select(RecentAccessSubject.access_id).where(RecentAccessSubject.subject == subject)
    found = session.scalars(
        select(ShareAccess.ledger_seq).where(or_(ShareAccess.id.in_(filed),
                                                 ShareAccess.id.in_(recent)))
    )  # fmt: skip
    return set(found)
