"""The base libraries' API: run the linkage, decide the review queue, read a file (traced)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response
from fastapi.responses import JSONResponse

from citybase.core.errors import NotFound
from citybase.core.web.deps import AppSettings, DbSession, traced_read
from citybase.core.web.params import Id
from citybase.data.baselib import service
from citybase.data.baselib.auth import BaselibReader, BaselibSteward
from citybase.data.baselib.schemas import Kind, ReviewDecide, ReviewRead, ReviewStatus, RunRead
from citybase.data.masking import operators as ops
from citybase.data.sharing import access
from citybase.data.sharing.auth import Context

router = APIRouter(prefix="/api/v1/baselib", tags=["base libraries"])
PATHS = {"persons": Kind.person, "enterprises": Kind.enterprise}


def _kind(path: str) -> Kind:
    if path not in PATHS:
        raise NotFound(f"no base library {path}: persons or enterprises", field="library")
    return PATHS[path]


def _answer(result: object) -> Response:
    if isinstance(result, access.Refused):
        # returned, not raised: the refusal's ledger entry commits with the request
        return JSONResponse({"error": result.error().to_dict()}, status_code=result.refusal.status)
    assert hasattr(result, "model_dump")
    return JSONResponse(result.model_dump(mode="json"),
                        headers={"X-Citybase-Access": str(getattr(result, "access_id", ""))})  # fmt: skip


@router.post("/{library}/runs", status_code=201)
def run_linkage(
    session: DbSession, settings: AppSettings, principal: BaselibSteward, library: str
) -> RunRead:
    """Link every row of the library's sources into files (the steward unit only)."""
    return service.link_base_library(
        session, principal, _kind(library), settings.baselib, ops.keys_for(settings.masking_key),
        dispute_days=settings.quality.dispute_days,
    )  # fmt: skip


@router.get("/{library}/runs/latest")
def latest_run(
    session: DbSession, settings: AppSettings, principal: BaselibSteward, library: str
) -> RunRead:
    """The last run: its counts and the trained model's match weights per comparison."""
    run = service.last_run(session, principal, _kind(library), settings.baselib)
    if run is None:
        raise NotFound(f"{library} has not been linked yet", field="library")
    return run


@router.get("/{library}/reviews")
def list_reviews(
    session: DbSession, settings: AppSettings, principal: BaselibSteward, library: str,
    status: ReviewStatus | None = ReviewStatus.open,
) -> list[ReviewRead]:  # fmt: skip
    """Pairs the model is unsure of, with each comparison's match weight."""
    return service.list_reviews(session, principal, _kind(library), settings.baselib, status)


@router.post("/reviews/{review_id}")
def decide_review(
    session: DbSession, settings: AppSettings, principal: BaselibSteward, review_id: Id,
    data: ReviewDecide,
) -> ReviewRead:  # fmt: skip
    """Confirm (the same) or split (not the same): every later run keeps to it."""
    return service.decide_review(session, principal, review_id, data, settings.baselib)


@router.get("/{library}/lookup")
@traced_read
def lookup(
    session: DbSession, settings: AppSettings, principal: BaselibReader, ctx: Context,
    library: str,
    number: Annotated[str, Query(min_length=1, max_length=40,
                                 description="公民身份号码 (15 or 18) or 统一社会信用代码")],
) -> Response:  # fmt: skip
    """A file found by citizen ID or credit code, read through the sharing rules."""
    return _answer(service.find_file(
        session, principal, _kind(library), number, ctx, ops.keys_for(settings.masking_key),
        settings.baselib,
    ))  # fmt: skip


@router.get("/{library}/{file_id}")
@traced_read
def read_file(
    session: DbSession, settings: AppSettings, principal: BaselibReader, ctx: Context,
    library: str, file_id: Id,
) -> Response:  # fmt: skip
    """A person's or enterprise's file: the fields whose sources one's unit holds grants for,
    masked by grade, each with its resource, unit and time. Name the purpose
    (X-Citybase-Purpose) and, for personal data, the case (X-Citybase-Issue)."""
    return _answer(service.read_file(
        session, principal, _kind(library), file_id, ctx, ops.keys_for(settings.masking_key),
        settings.baselib,
    ))  # fmt: skip
