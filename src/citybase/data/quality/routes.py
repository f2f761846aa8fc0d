from __future__ import annotations

from fastapi import APIRouter, Response

from citybase.core.web.deps import AppSettings, DbSession
from citybase.core.web.params import Id
from citybase.data.quality import service
from citybase.data.quality.auth import Disputer, QualityManager
from citybase.data.quality.schemas import (
    DisputeAnswer,
    DisputeCreate,
    DisputeRead,
    DisputeStatus,
    ResourceQuality,
    RuleCreate,
    RuleRead,
    RunRead,
)

router = APIRouter(prefix="/api/v1/quality", tags=["data quality"])


@router.get("/resources/{code}")
def quality_of(session: DbSession, principal: Disputer, code: str) -> ResourceQuality:
    """The resource's rule count, last run with its failures, score trend and open disputes."""
    return service.quality_of(session, principal, code)


@router.get("/resources/{code}/rules")
def list_rules(session: DbSession, principal: Disputer, code: str) -> list[RuleRead]:
    return service.list_rules(session, principal, code)


@router.post("/resources/{code}/rules", status_code=201)
def add_rule(
    session: DbSession, principal: QualityManager, code: str, data: RuleCreate
) -> RuleRead:
    return service.add_rule(session, principal, code, data)


@router.delete("/resources/{code}/rules/{rule_id}", status_code=204)
def remove_rule(session: DbSession, principal: QualityManager, code: str, rule_id: Id) -> Response:
    service.remove_rule(session, principal, code, rule_id)
    return Response(status_code=204)


@router.post("/resources/{code}/runs", status_code=201)
def run_now(session: DbSession, principal: QualityManager, code: str) -> RunRead:
    """Run the rules over every row now (they also run on the schedule)."""
    return service.run_now(session, principal, code)


@router.get("/disputes")
def list_disputes(
    session: DbSession,
    principal: Disputer,
    status: DisputeStatus | None = None,
    resource: str | None = None,
) -> list[DisputeRead]:
    """Disputes one's unit raised or must answer; ``overdue`` marks those past their deadline."""
    return service.list_disputes(session, principal, status, resource)


@router.post("/disputes", status_code=201)
def raise_dispute(
    session: DbSession, settings: AppSettings, principal: Disputer, data: DisputeCreate
) -> DisputeRead:
    """Dispute a row or an item (申诉/纠错); the provider answers within the deadline."""
    return service.raise_dispute(session, principal, data, settings.quality.dispute_days)


@router.post("/disputes/{number}/answer")
def answer_dispute(
    session: DbSession, principal: QualityManager, number: str, data: DisputeAnswer
) -> DisputeRead:
    return service.answer_dispute(session, principal, number, data)


@router.post("/disputes/{number}/acknowledge")
def acknowledge(session: DbSession, principal: Disputer, number: str) -> DisputeRead:
    return service.acknowledge(session, principal, number)


@router.post("/disputes/{number}/withdraw")
def withdraw(session: DbSession, principal: Disputer, number: str) -> DisputeRead:
    return service.withdraw_dispute(session, principal, number)
