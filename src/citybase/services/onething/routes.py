"""The one-thing service's API: the catalog, the one form, applications and offers."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, UploadFile
from pydantic import BaseModel, ConfigDict, Field

from citybase.core.errors import InvalidInput
from citybase.core.files import service as files
from citybase.core.files.schemas import FileRead
from citybase.core.identity.auth import CurrentPrincipal
from citybase.core.identity.service import actor_of
from citybase.core.web.deps import AppSettings, DbSession
from citybase.core.workdays import calendar_for
from citybase.data.masking import operators as ops
from citybase.services.onething import service
from citybase.services.onething.auth import (
    OneThingApplicant,
    OneThingFollower,
    OneThingKeeper,
    OneThingReader,
)
from citybase.services.onething.schemas import (
    ApplicationCreate,
    ApplicationRead,
    FormRead,
    ItemRead,
    ItemSpec,
    LoadReport,
    Supplement,
)

router = APIRouter(prefix="/api/v1/onething", tags=["one thing"])


class Consent(BaseModel):
    model_config = ConfigDict(extra="forbid")

    consent: bool = Field(description="The applicant consents to the pre-fill's reads")


class ItemsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    yaml: str = Field(min_length=1, max_length=500_000, description="items: [...] in YAML")
    dry_run: bool = False


@router.get("/items")
def list_items(session: DbSession, _: OneThingReader) -> list[ItemRead]:
    """The one-thing catalog (一件事清单): every item with its matters, stages and pre-fill share."""
    return service.list_items(session)


@router.get("/items/{code}")
def get_item(session: DbSession, _: OneThingReader, code: str) -> ItemRead:
    return service.get_item(session, code)


@router.put("/items/{code}")
def save_item(session: DbSession, principal: OneThingKeeper, code: str, spec: ItemSpec) -> ItemRead:
    """Create or replace an item; a cycle among its matters, an unknown unit or resource is
    refused with every problem named."""
    if spec.code != code:
        raise InvalidInput(f"事项编码 {spec.code} 与地址中的 {code} 不一致", field="code")
    return service.save_item(session, principal, spec)


@router.post("/items/load")
def load_items(session: DbSession, principal: OneThingKeeper, data: ItemsFile) -> LoadReport:
    """Load items from YAML: all, or — with any problem — none (the problems are listed)."""
    report = service.load_items(session, principal, data.yaml, dry_run=data.dry_run)
    if report.problems:
        raise InvalidInput("；".join(report.problems[:20]), field="yaml", problems=report.problems)
    return report


@router.post("/items/{code}/form")
def build_form(
    session: DbSession, settings: AppSettings, principal: OneThingApplicant, code: str,
    data: Consent,
) -> FormRead:  # fmt: skip
    """The one form (一表申请) of an item, pre-filled under the applicant's consent: every read
    is traced (ledger and access log), each field says where its value came from."""
    if not data.consent:
        raise InvalidInput("请先同意授权调取您在城市基础库和共享资源中的信息", field="consent")
    return service.build_form(
        session, principal, code, settings, ops.keys_for(settings.masking_key)
    )


@router.post("/files", status_code=201)
def upload(
    session: DbSession, principal: OneThingApplicant, settings: AppSettings,
    file: Annotated[UploadFile, File()],
) -> FileRead:  # fmt: skip
    """Keep a material's file; name its ``id`` among the application's materials."""
    return files.keep(session, settings, actor_of(principal).name, file.filename or "",
                      file.file.read(files.read_limit(settings)))  # fmt: skip


@router.post("/applications", status_code=201)
def submit(
    session: DbSession, settings: AppSettings, principal: OneThingApplicant,
    data: ApplicationCreate,
) -> ApplicationRead:  # fmt: skip
    """Apply: the whole form and every material are checked first (each problem named); then
    each matter becomes a case of its unit. ``offer`` confirms an offer made unasked."""
    return service.submit(session, principal, data, settings, ops.keys_for(settings.masking_key))


@router.get("/applications/mine")
def mine(session: DbSession, principal: OneThingApplicant) -> list[ApplicationRead]:
    """The signed-in applicant's own applications and offers, newest first."""
    return service.my_applications(session, principal)


@router.get("/applications")
def followed(
    session: DbSession, principal: OneThingFollower, item: str = ""
) -> list[ApplicationRead]:
    """Applications whose matters the reader's unit handles (all, for supervisors)."""
    return service.unit_applications(session, principal, item)


@router.get("/applications/{number}")
def get_application(
    session: DbSession, principal: CurrentPrincipal, number: str
) -> ApplicationRead:
    """One application with its matters' progress: for its applicant, the units handling it
    (their part) and supervisors; anyone else is told it does not exist."""
    return service.get_application(session, principal, number)


@router.post("/applications/{number}/matters/{matter}/supplement")
def supplement(
    session: DbSession, settings: AppSettings, principal: OneThingApplicant, number: str,
    matter: str, data: Supplement,
) -> ApplicationRead:  # fmt: skip
    """Give what a unit asked for (补正); the matter goes back to it."""
    return service.supplement(session, principal, number, matter, data,
                              cal=calendar_for(settings.home))  # fmt: skip


@router.post("/applications/{number}/decline")
def decline(session: DbSession, principal: OneThingApplicant, number: str) -> ApplicationRead:
    """Decline an offer made unasked (免申即办)."""
    return service.decline_offer(session, principal, number)
