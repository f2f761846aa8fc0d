from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from citybase.cockpit.plans.models import Plan


def add(session: Session, obj: object) -> None:
    session.add(obj)
    session.flush()


def by_code(session: Session, code: str) -> Plan | None:
    return session.scalar(select(Plan).where(Plan.code == code))


def all_plans(session: Session) -> list[Plan]:
    return list(session.scalars(select(Plan).order_by(Plan.city, Plan.start_year, Plan.id)))


def by_id(session: Session, plan_id: int) -> Plan | None:
    return session.get(Plan, plan_id)
