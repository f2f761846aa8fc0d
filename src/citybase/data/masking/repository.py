"""Every query on the masking tables."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from citybase.data.masking.models import MaskingRule


def rules(session: Session) -> list[MaskingRule]:
    return list(session.scalars(select(MaskingRule)))


def rule(session: Session, level: str, kind: str) -> MaskingRule | None:
    return session.scalars(
        select(MaskingRule).where(MaskingRule.level == level, MaskingRule.kind == kind)
    ).first()


def add(session: Session, rule: MaskingRule) -> None:
    session.add(rule)
    session.flush()


def remove(session: Session, level: str, kind: str) -> None:
    session.execute(delete(MaskingRule).where(MaskingRule.level == level, MaskingRule.kind == kind))
