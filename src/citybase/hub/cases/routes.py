from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, File, Form, Query, Request, UploadFile
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from citybase.core.bus import service as bus
from citybase.core.clock import CITY_TZ
from citybase.core.files import service as files
from citybase.core.files.schemas import FileRead
from citybase.core.identity.service import actor_of
from citybase.core.progress import silent
from citybase.core.tables import XLSX
from citybase.core.web.deps import AppSettings, DbSession, traced_read
from citybase.core.web.params import Id
from citybase.core.workdays import calendar_for
from citybase.hub.cases import service
from citybase.hub.cases.auth import CatalogKeeper, CentreReader, ContactReader, Intake, Reader
from citybase.hub.cases.schemas import (
    Action,
    ActionIn,
    CaseCreate,
    CaseDetail,
    CaseFilter,
    CaseRead,
    Contact,
    IntakeResult,
)
from citybase.hub.dispatch import service as dispatch
from citybase.hub.dispatch.schemas import CatalogReport, RuleIn, RuleRead, Suggestion

router = APIRouter(prefix="/api/v1/hub", tags=["city brain"])


class CasePage(BaseModel):
    total: int
    items: list[CaseRead]


@router.post("/cases", status_code=201)
def take_in(
    session: DbSession, principal: Intake, settings: AppSettings, data: CaseCreate
) -> IntakeResult:
    """受理: take a matter in. The answer says which open cases nearby look like the same matter
    and whether the case went out at once (a sure suggestion and a line in the catalog)."""
    mover = service.Mover.of(session, principal)
    return service.intake(session, mover, data, home=settings.home, hub=settings.hub,
                          cal=calendar_for(settings.home))  # fmt: skip


@router.post("/files", status_code=201)
def upload(
    session: DbSession,
    principal: Intake,
    settings: AppSettings,
    file: Annotated[UploadFile, File()],
) -> FileRead:
    """Keep a file (a photo, a recording, a document) to attach to a case being taken in: name
    its ``id`` as ``{"file_id": …}`` among the case's attachments. Only what the bytes show is
    taken (photos, PDF, audio, video), within the size limit; a photo's EXIF place places a case
    that gives no other."""
    return files.keep(session, settings, actor_of(principal).name, file.filename or "",
                      file.file.read(files.read_limit(settings)))  # fmt: skip


@router.get("/cases")
def find_cases(
    session: DbSession, principal: Reader, flt: Annotated[CaseFilter, Query()]
) -> CasePage:
    """Cases, newest first: every case for the centre, its own unit's for a unit."""
    items, total = service.find(session, principal, flt)
    return CasePage(total=total, items=items)


FOLLOW = (
    "A token the console's page chose to follow the export's progress while it waits "
    "(GET /console/progress/form with the token in X-Form-Token)"
)


@router.get("/cases.xlsx", response_class=Response,
            responses={200: {"content": {XLSX: {}}, "description": "A workbook"}})  # fmt: skip
@traced_read  # the export puts itself on the ledger
def export_cases(
    request: Request, session: DbSession, principal: Reader, flt: Annotated[CaseFilter, Query()],
    follow: Annotated[str, Query(max_length=64, description=FOLLOW)] = "",
) -> Response:  # fmt: skip
    """The cases the caller sees that meet the filter (as ``GET /cases``, without its page),
    newest first, as an Excel workbook: at most 100,000, contacts masked; on the ledger."""
    report = (bus.form_reporter(request.app.state.shared, follow, principal.username)
              if follow else silent)  # fmt: skip
    book, _ = service.export(session, principal, flt, report)
    stamp = datetime.now(CITY_TZ).strftime("%Y%m%d-%H%M")
    return Response(book, media_type=XLSX,
                    headers={"Content-Disposition": f'attachment; filename="cases-{stamp}.xlsx"'})  # fmt: skip


@router.get("/cases/{number}")
def get_case(session: DbSession, principal: Reader, number: str) -> CaseDetail:
    """A case with its history and what the caller may do next."""
    return service.get(session, principal, number)


@router.post("/cases/{number}/attachments", status_code=201)
def attach(
    session: DbSession,
    principal: Reader,
    settings: AppSettings,
    number: str,
    file: Annotated[UploadFile, File()],
    note: Annotated[str, Form(max_length=2000)] = "",
) -> CaseDetail:
    """Add a file to a case — a photo of the place, of the work done, a document — as a step of
    its history (the centre, supervisors and the units handling it, until it is closed)."""
    mover = service.Mover.of(session, principal)
    service.may_attach(session, mover, number)  # refused before any bytes are kept
    kept = files.keep(
        session,
        settings,
        mover.actor.name,
        file.filename or "",
        file.file.read(files.read_limit(settings)),
    )
    return service.attach(session, mover, number, kept, note)


@router.get("/cases/{number}/attachments/{file_id}", response_class=Response,
            responses={200: {"content": {"image/jpeg": {}, "application/pdf": {}}}})  # fmt: skip
def attachment(
    session: DbSession,
    principal: Reader,
    settings: AppSettings,
    number: str,
    file_id: str,
    preview: bool = False,
) -> Response:
    """A file of a case, as it was uploaded; ``preview=true``: a photo drawn at most 320 pixels
    across, without its EXIF."""
    found = service.attached_file(session, principal, number, file_id)
    return files.response(files.content(session, settings, found, preview=preview), found, preview)


@router.post("/cases/{number}/actions/{action}")
def act(
    session: DbSession,
    principal: Reader,
    settings: AppSettings,
    number: str,
    action: Action,
    data: Annotated[ActionIn | None, Body()] = None,
) -> CaseDetail:
    """One step of the workflow. 409 with the reason when the case's state does not allow it;
    403 when the caller's role or unit may not take it."""
    mover = service.Mover.of(session, principal)
    return service.act(session, mover, number, action, data or ActionIn(),
                       cal=calendar_for(settings.home))  # fmt: skip


@router.post("/cases/{number}/contact")
def reveal_contact(
    session: DbSession, principal: ContactReader, number: str, why: Annotated[str, Query()]
) -> Contact:
    """The reporter's name and phone in full (to call back); the look is on the ledger."""
    return service.contact(session, principal, number, why)


@router.get("/dispatch/rules")
def rules(session: DbSession, principal: CentreReader) -> list[RuleRead]:
    """The dispatch catalog (派单目录)."""
    return dispatch.rules(session)


@router.put("/dispatch/rules")
def put_rule(session: DbSession, principal: CatalogKeeper, data: RuleIn) -> RuleRead:
    """Add the line for a category and region, or change it."""
    return dispatch.put_rule(session, actor_of(principal), data)


@router.delete("/dispatch/rules/{rule_id}", status_code=204)
def delete_rule(session: DbSession, principal: CatalogKeeper, rule_id: Id) -> None:
    dispatch.delete_rule(session, actor_of(principal), rule_id)


@router.post(
    "/dispatch/rules/import", response_model=CatalogReport,
    responses={422: {"model": CatalogReport, "description": "Problems; nothing was loaded"}},
)  # fmt: skip
def import_rules(
    session: DbSession,
    principal: CatalogKeeper,
    text: str = Body(media_type="application/yaml", description="A catalog file, as YAML"),
) -> Any:
    """Load lines of the catalog from YAML: all of them or, with problems, none."""
    report = dispatch.import_catalog(session, actor_of(principal), text)
    if not report.ok:
        return JSONResponse(report.model_dump(mode="json"), status_code=422)
    return report


class SuggestIn(BaseModel):
    text: str


class Suggestions(BaseModel):
    category: Suggestion | None = Field(description="null before a model has been trained")
    unit: Suggestion | None = Field(description="null before a unit model has been trained")


@router.post("/dispatch/suggest")
def suggest(principal: Intake, settings: AppSettings, data: SuggestIn) -> Suggestions:
    """The trained models' guesses at a message's category and at the unit that will act, each
    with the three likeliest (the models learn from closed cases)."""
    model = settings.hub.dispatch_model
    return Suggestions(category=dispatch.suggest(settings.home, model, data.text),
                       unit=dispatch.suggest(settings.home, f"{model}-units", data.text))  # fmt: skip
