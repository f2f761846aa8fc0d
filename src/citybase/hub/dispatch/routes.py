"""The dispatch classifier's learning over the API: its versions with their figures, a challenger
trained on demand, going back to an earlier version, and the corrections it learns from (JSON,
CSV, Excel)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated

from fastapi import APIRouter, Body, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from citybase.core.bus.schemas import JobRead
from citybase.core.clock import CITY_TZ
from citybase.core.clock import today as city_today
from citybase.core.errors import InvalidInput
from citybase.core.identity.service import actor_of
from citybase.core.tables import XLSX
from citybase.core.web.deps import AppSettings, DbSession, traced_read
from citybase.core.web.params import Id, QueryDate
from citybase.hub.dispatch import corrections, learning
from citybase.hub.dispatch.auth import ModelReader, ModelTrainer
from citybase.hub.dispatch.schemas import (
    Correction,
    CorrectionKind,
    MarginsIn,
    MarginsRead,
    VersionRead,
)

router = APIRouter(prefix="/api/v1/hub/dispatch", tags=["city brain"])

ModelName = Annotated[str | None, Query(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$",
                                        description="The model; the one dispatch uses if left out")]  # fmt: skip


KindParam = Annotated[str, Query(max_length=20, description="return, reassign, category or "
                                                             "merge; empty for all")]  # fmt: skip


def kind_of(kind: str) -> CorrectionKind | None:
    if not kind:
        return None
    try:
        return CorrectionKind(kind)
    except ValueError:
        raise InvalidInput(
            f"no kind of correction '{kind}' (there are: "
            f"{', '.join(k.value for k in CorrectionKind)})",
            field="kind",
        ) from None


class RollbackIn(BaseModel):
    note: str = Field(min_length=1, max_length=500, description="Why go back to this version")


@router.get("/models")
def list_versions(
    session: DbSession, principal: ModelReader, settings: AppSettings, name: ModelName = None
) -> list[VersionRead]:
    """Every version of the model, the newest first: status, window, figures, confusion."""
    return learning.versions(session, name or settings.hub.dispatch_model)


@router.post("/models/retrain", status_code=202)
def retrain(
    session: DbSession, principal: ModelTrainer, settings: AppSettings, name: ModelName = None
) -> JobRead:
    """Train a challenger now (in the worker) and judge it against the champion."""
    return learning.ask_retrain(session, actor_of(principal), name or settings.hub.dispatch_model,
                                learning.centre_of(session, principal))  # fmt: skip


@router.get("/models/margins")
def get_margins(
    session: DbSession, principal: ModelReader, settings: AppSettings, name: ModelName = None
) -> MarginsRead:
    """The margins a challenger must beat the champion by (macro-F1, and the share routed
    without a later correction): the quality team's, or the settings' when it set none."""
    return learning.margins(session, settings.hub, name or settings.hub.dispatch_model)


@router.put("/models/margins")
def put_margins(
    session: DbSession, principal: ModelTrainer, settings: AppSettings,
    data: Annotated[MarginsIn, Body()], name: ModelName = None,
) -> MarginsRead:  # fmt: skip
    """Set the margins (the city centre's quality team; on the ledger with what they were)."""
    return learning.set_margins(session, settings.hub, actor_of(principal),
                                name or settings.hub.dispatch_model, data,
                                learning.centre_of(session, principal))  # fmt: skip


@router.post("/models/{version_id}/rollback")
def rollback(
    session: DbSession, principal: ModelTrainer, settings: AppSettings, version_id: Id,
    data: Annotated[RollbackIn, Body()],
) -> VersionRead:  # fmt: skip
    """Make this earlier version the champion again (on the ledger)."""
    return learning.rollback(session, settings.home, actor_of(principal), version_id, data.note,
                             learning.centre_of(session, principal))  # fmt: skip


def period(since: date | None, until: date | None) -> tuple[datetime, datetime]:
    """[since, until] in whole city days; the last 90 days by default."""
    last = until or city_today()
    first = since or last - timedelta(days=89)
    if first > last:
        raise InvalidInput("since comes after until", field="since")
    return (datetime.combine(first, time(), CITY_TZ),
            datetime.combine(last + timedelta(days=1), time(), CITY_TZ))  # fmt: skip


@router.get("/corrections")
def list_corrections(
    session: DbSession, principal: ModelReader, since: QueryDate = None, until: QueryDate = None,
    kind: KindParam = "", undone: bool = True,
) -> list[Correction]:  # fmt: skip
    """The corrections made in the period (newest first), each a labelled example; ``undone``
    false leaves out those a later step undid."""
    start, end = period(since, until)
    return corrections.find(session, start, end, kind=kind_of(kind), include_undone=undone)


@router.get("/corrections.{fmt}", response_class=Response,
            responses={200: {"content": {XLSX: {}, "text/csv": {}}, "description": "A file"}})  # fmt: skip
@traced_read  # the export puts itself on the ledger
def export_corrections(
    session: DbSession, principal: ModelReader, fmt: str, since: QueryDate = None,
    until: QueryDate = None, kind: KindParam = "", undone: bool = True,
) -> Response:  # fmt: skip
    """The same as a CSV (UTF-8 with BOM) or Excel file; each export is on the ledger."""
    if fmt not in ("csv", "xlsx"):
        raise InvalidInput("the format is csv or xlsx", field="fmt")
    start, end = period(since, until)
    found = corrections.find(session, start, end, kind=kind_of(kind), include_undone=undone)
    corrections.record_export(session, actor_of(principal), start, end, len(found), fmt)
    body = corrections.to_csv(found) if fmt == "csv" else corrections.to_xlsx(found)
    stamp = datetime.now(CITY_TZ).strftime("%Y%m%d-%H%M")
    return Response(body, media_type=XLSX if fmt == "xlsx" else "text/csv; charset=utf-8",
                    headers={"Content-Disposition":
                             f'attachment; filename="corrections-{stamp}.{fmt}"'})  # fmt: skip
