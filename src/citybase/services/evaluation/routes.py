from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel

from citybase.core.clock import CITY_TZ
from citybase.core.errors import Forbidden, InvalidInput, TooMany
from citybase.core.settings import Settings
from citybase.core.tables import XLSX
from citybase.core.values import DateTime
from citybase.core.web.access import Public
from citybase.core.web.deps import AppSettings, DbSession, traced_read
from citybase.core.web.limits import limiter_for
from citybase.core.web.params import Id
from citybase.core.workdays import calendar_for
from citybase.services.evaluation import service
from citybase.services.evaluation.auth import Reader, Rectifier, Revisitor
from citybase.services.evaluation.schemas import (
    AnswerIn,
    Figures,
    RatingCreate,
    RatingFilter,
    RatingRead,
    RevisitIn,
)

router = APIRouter(prefix="/api/v1/evaluation", tags=["applications"])
HOUR = 3600
TOO_MANY = "too many ratings from here: try again later, or call 12345"


class RatingPage(BaseModel):
    total: int
    items: list[RatingRead]


def rate_as_applicant(
    request: Request, session: DbSession, settings: Settings, data: RatingCreate
) -> RatingRead:
    """The portal's limits (as for following a case): calls per client address, and wrong
    phones per subject — after that many the subject refuses every phone for the hour."""
    hub = settings.hub
    limiter = limiter_for(request)
    client = request.client.host if request.client else ""
    limiter.hit(f"evaluation.rate:{client}", hub.portal_lookups_per_hour, HOUR, TOO_MANY)
    subject = f"evaluation.rate.subject:{data.kind.value}:{data.subject_id.strip()}"
    wait = limiter.blocked_for(subject, hub.portal_wrong_phones)
    if wait:
        raise TooMany(TOO_MANY, retry_after=wait)
    try:
        return service.rate(session, settings, data, calendar_for(settings.home))
    except Forbidden:
        limiter.count(subject, HOUR)
        raise


@router.post("/ratings", status_code=201)
def rate(
    request: Request, session: DbSession, settings: AppSettings, _: Public, data: RatingCreate
) -> RatingRead:
    """好差评: the applicant rates a handled subject (a 12345 case by its number, a matter or a
    one-thing application by its id) with the phone it was applied with; once per subject.
    ``grade`` is one of the five national grades; a bad one (unsatisfied, very_unsatisfied)
    needs at least one reason."""
    return rate_as_applicant(request, session, settings, data)


@router.get("/ratings")
def find_ratings(
    session: DbSession, principal: Reader, flt: Annotated[RatingFilter, Query()]
) -> RatingPage:
    """Ratings, newest first: every unit's for the centre, one's own unit's for a unit."""
    items, total = service.get_accessible_ratings(session, principal, flt)
    return RatingPage(total=total, items=items)


@router.get("/ratings.xlsx", response_class=Response,
            responses={200: {"content": {XLSX: {}}, "description": "A workbook"}})  # fmt: skip
@traced_read  # the export puts itself on the ledger
def export_ratings(
    session: DbSession, principal: Reader, flt: Annotated[RatingFilter, Query()]
) -> Response:
    """The ratings the caller sees that meet the filter, and the figures by unit, kind and
    channel, as an Excel workbook; on the ledger."""
    book, _ = service.export(session, principal, flt)
    stamp = datetime.now(CITY_TZ).strftime("%Y%m%d-%H%M")
    return Response(book, media_type=XLSX, headers={
        "Content-Disposition": f'attachment; filename="ratings-{stamp}.xlsx"'})  # fmt: skip


@router.get("/ratings/{rating_id}")
def get_rating(session: DbSession, principal: Reader, rating_id: Id) -> RatingRead:
    return service.get_accessible_rating(session, principal, rating_id)


@router.post("/ratings/{rating_id}/answer")
def answer(session: DbSession, principal: Rectifier, rating_id: Id, data: AnswerIn) -> RatingRead:
    """整改反馈: the rated unit says what it did about a bad rating."""
    return service.answer_rectification(session, principal, rating_id, data.answer)


@router.post("/ratings/{rating_id}/revisit")
def revisit(session: DbSession, principal: Revisitor, rating_id: Id, data: RevisitIn) -> RatingRead:
    """回访: whether the applicant accepts the unit's answer."""
    return service.record_revisit(session, principal, rating_id, data)


@router.get("/figures")
def get_figures(
    session: DbSession,
    principal: Reader,
    by: str = "unit",
    since: DateTime | None = None,
    until: DateTime | None = None,
) -> list[Figures]:
    """Count, share of each grade, 好评率, 差评, rectified on time, per ``by`` (unit, kind,
    channel, all) over the ratings given in [since, until)."""
    if by not in service.BY:
        raise InvalidInput(f"group by one of {', '.join(service.BY)}", field="by")
    return service.figures(session, principal, by, since, until)
