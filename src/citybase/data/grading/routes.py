from __future__ import annotations

from fastapi import APIRouter

from citybase.core.errors import NotFound
from citybase.core.web.deps import DbSession
from citybase.data.catalog.auth import CatalogReader
from citybase.data.grading import service
from citybase.data.grading.auth import Grader
from citybase.data.grading.schemas import Decision, GradingRead, ScanRequest

router = APIRouter(prefix="/api/v1/grading", tags=["data grading"])


@router.get("/queue")
def queue(session: DbSession, principal: Grader) -> list[GradingRead]:
    """Proposals waiting for a steward's decision."""
    return service.queue(session, principal)


@router.get("/{code}")
def get_grading(session: DbSession, principal: CatalogReader, code: str) -> GradingRead:
    grading = service.get_grading(session, principal, code)
    if grading is None:
        raise NotFound(f"{code} has not been scanned yet", field="code")
    return grading


@router.post("/{code}/scan")
def scan(session: DbSession, principal: Grader, code: str, data: ScanRequest) -> GradingRead:
    """Scan the resource's data items and the given sample rows; propose a level with reasons."""
    return service.scan_resource(session, principal, code, data)


@router.post("/{code}/decision")
def decide(session: DbSession, principal: Grader, code: str, data: Decision) -> GradingRead:
    """Confirm the proposed level, or set another with a reason."""
    return service.decide(session, principal, code, data)
