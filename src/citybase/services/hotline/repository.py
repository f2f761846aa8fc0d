from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from citybase.services.hotline.models import KnowledgeAnswer


def add(session: Session, obj: object) -> None:
    session.add(obj)
    session.flush()


def answers(session: Session, *, active_only: bool) -> list[KnowledgeAnswer]:
    query = select(KnowledgeAnswer).order_by(KnowledgeAnswer.id)
    if active_only:
        query = query.where(KnowledgeAnswer.active.is_(True))
    return list(session.scalars(query))


def answer(session: Session, answer_id: int) -> KnowledgeAnswer | None:
    return session.get(KnowledgeAnswer, answer_id)


def by_title(session: Session, title: str) -> KnowledgeAnswer | None:
    return session.scalar(select(KnowledgeAnswer).where(KnowledgeAnswer.title == title))
