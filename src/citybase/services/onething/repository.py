"""Every query of the one-thing service's tables."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from citybase.services.onething.models import (
    Applicant,
    Application,
    ApplicationMatter,
    OneThingItem,
)


def item(session: Session, code: str) -> OneThingItem | None:
    return session.scalars(select(OneThingItem).where(OneThingItem.code == code)).first()


def items(session: Session, *, active_only: bool = False) -> Sequence[OneThingItem]:
    stmt = select(OneThingItem).order_by(OneThingItem.code)
    if active_only:
        stmt = stmt.where(OneThingItem.active.is_(True))
    return session.scalars(stmt).all()


def add(session: Session, row: object) -> None:
    session.add(row)
    session.flush()


def applicant(session: Session, user_id: int) -> Applicant | None:
    return session.scalars(select(Applicant).where(Applicant.user_id == user_id)).first()


def applicant_by_subject(session: Session, kind: str, subject_tag: str) -> Applicant | None:
    return session.scalars(
        select(Applicant)
        .where(Applicant.kind == kind, Applicant.subject_tag == subject_tag)
        .order_by(Applicant.id)
    ).first()


def applicants(session: Session, kind: str) -> Sequence[Applicant]:
    return session.scalars(
        select(Applicant).where(Applicant.kind == kind).order_by(Applicant.id)
    ).all()


def application(session: Session, number: str) -> Application | None:
    return session.scalars(select(Application).where(Application.number == number)).first()


def applications_of(session: Session, user_id: int, limit: int = 200) -> Sequence[Application]:
    return session.scalars(
        select(Application)
        .where(Application.user_id == user_id)
        .order_by(Application.id.desc())
        .limit(limit)
    ).all()


def applications_of_subject(
    session: Session, kind: str, subject_tag: str, limit: int = 200
) -> Sequence[Application]:
    return session.scalars(
        select(Application)
        .where(Application.kind == kind, Application.subject_tag == subject_tag)
        .order_by(Application.id.desc())
        .limit(limit)
    ).all()


def applications(
    session: Session, *, item_code: str = "", unit_code: str = "", limit: int = 200
) -> Sequence[Application]:
    stmt = select(Application).order_by(Application.id.desc()).limit(limit)
    if item_code:
        stmt = stmt.where(Application.item_code == item_code)
    if unit_code:
        stmt = stmt.where(
            Application.id.in_(
                select(ApplicationMatter.application_id).where(
                    ApplicationMatter.unit_code == unit_code
                )
            )
        )
    return session.scalars(stmt).all()


def has_application(session: Session, item_code: str, subject_tag: str) -> bool:
    return (
        session.scalars(
            select(Application.id).where(
                Application.item_code == item_code, Application.subject_tag == subject_tag
            )
        ).first()
        is not None
    )


def matters(session: Session, application_id: int) -> Sequence[ApplicationMatter]:
    return session.scalars(
        select(ApplicationMatter)
        .where(ApplicationMatter.application_id == application_id)
        .order_by(ApplicationMatter.id)
    ).all()


def matter_by_case(session: Session, case_number: str) -> ApplicationMatter | None:
    return session.scalars(
        select(ApplicationMatter).where(ApplicationMatter.case_number == case_number)
    ).first()


def application_by_id(session: Session, application_id: int) -> Application | None:
    return session.get(Application, application_id)


def prefill_totals(session: Session) -> dict[str, tuple[int, int, int]]:
    """item → (applications, fields pre-filled, fields in all), over submitted applications."""
    rows = session.execute(
        select(
            Application.item_code,
            func.count(Application.id),
            func.coalesce(func.sum(Application.fields_prefilled), 0),
            func.coalesce(func.sum(Application.fields_total), 0),
        )
        .where(Application.submitted_at.is_not(None))
        .group_by(Application.item_code)
    ).all()
    return {code: (int(n), int(pre), int(tot)) for code, n, pre, tot in rows}


def next_serial(session: Session, prefix: str) -> int:
    """The serial after the highest one under ``prefix`` (a day's numbers)."""
    last = session.scalar(
        select(func.max(Application.number)).where(
            Application.number.startswith(prefix, autoescape=True)
        )
    )
    tail = (last or "")[len(prefix) :]
    return (int(tail) if tail.isdigit() else 0) + 1


def touch(row: Application | ApplicationMatter, at: datetime) -> None:
    row.updated_at = at
