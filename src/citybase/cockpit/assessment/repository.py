from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from citybase.cockpit.assessment.models import AssessmentRules


def add(session: Session, obj: object) -> None:
    session.add(obj)
    session.flush()


def rules_of(session: Session, year: int) -> AssessmentRules | None:
    return session.scalar(select(AssessmentRules).where(AssessmentRules.year == year))
