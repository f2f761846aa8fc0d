from __future__ import annotations

from fastapi import APIRouter

from citybase.core.identity.service import actor_of
from citybase.core.web.deps import DbSession
from citybase.core.web.params import Id
from citybase.services.hotline import service
from citybase.services.hotline.auth import KnowledgeKeeper, KnowledgeReader
from citybase.services.hotline.schemas import AnswerHit, AnswerIn, AnswerRead

router = APIRouter(prefix="/api/v1/hotline", tags=["12345"])


@router.get("/knowledge")
def search(
    session: DbSession, principal: KnowledgeReader, q: str = "", category_code: str = ""
) -> list[AnswerHit]:
    """Standard answers that fit a citizen's question, best first."""
    return service.search_answers(session, q, category_code, limit=20)


@router.get("/knowledge/{answer_id}")
def get_answer(session: DbSession, principal: KnowledgeReader, answer_id: Id) -> AnswerRead:
    return service.get_answer(session, answer_id)


@router.post("/knowledge", status_code=201)
def create(session: DbSession, principal: KnowledgeKeeper, data: AnswerIn) -> AnswerRead:
    return service.put_answer(session, actor_of(principal), data)


@router.put("/knowledge/{answer_id}")
def update(
    session: DbSession, principal: KnowledgeKeeper, answer_id: Id, data: AnswerIn
) -> AnswerRead:
    return service.put_answer(session, actor_of(principal), data, answer_id)
