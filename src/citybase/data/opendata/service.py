"""Public data opening: what is open, its downloads, and applications for conditional opening.

A resource is in the open catalog when it is published and its open type is 无条件开放 or
有条件开放. Rows of an unconditionally open resource download by anyone, as CSV, JSON or XLSX.
Rows of a conditionally open one download only with the token of an approved application
(有条件开放申请), within its validity; each such download is on the ledger with the application's
number. Applications are decided by a data steward of the providing unit.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import openpyxl
from pypinyin import lazy_pinyin
from sqlalchemy.orm import Session

from citybase.core import clock
from citybase.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from citybase.core.identity.schemas import Principal, Role
from citybase.core.identity.service import actor_of
from citybase.core.ledger import service as ledger
from citybase.core.ledger.schemas import Actor
from citybase.data.catalog import service as catalog
from citybase.data.catalog.schemas import OpenType, ResourceRead, Status
from citybase.data.datastore import service as datastore
from citybase.data.datastore.schemas import TableRead
from citybase.data.grading import service as grading
from citybase.data.opendata import repository
from citybase.data.opendata.models import OpenApplication
from citybase.data.opendata.schemas import (
    ApplicationCreate,
    ApplicationDecision,
    ApplicationRead,
    ApplicationReceipt,
    ApplicationStatus,
    Distribution,
    OpenDataset,
)

FORMATS = {
    "csv": ("CSV", "text/csv"),
    "json": ("JSON", "application/json"),
    "xlsx": ("XLSX", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
}
OPEN = (OpenType.unconditional, OpenType.conditional)
PORTAL = Actor.system("open-data-portal")


def theme_name(theme: str) -> str:
    """A theme library's name where names must be ASCII (a CKAN group, a SKOS concept's URI):
    its pinyin, lowercase (CKAN's name rule: ``a-z``, ``0-9``, ``-``, ``_``)."""
    name = "".join(lazy_pinyin(theme, errors="ignore")).lower()
    name = re.sub(r"[^a-z0-9_-]+", "-", name).strip("-")
    return name if len(name) >= 2 else f"theme-{name or 'x'}"


def is_open(resource: ResourceRead) -> bool:
    return resource.status is Status.published and resource.open_type in OPEN


def _open_resource(session: Session, code: str) -> ResourceRead:
    try:
        resource = catalog.get_resource(session, code)
    except NotFound:
        resource = None
    if resource is None or not is_open(resource):
        raise NotFound(f"no open dataset {code}", field="code")
    return resource


def _dataset(
    session: Session, resource: ResourceRead, table: TableRead | None, base_url: str
) -> OpenDataset:
    distributions = []
    if table is not None:
        for ext, (label, media_type) in FORMATS.items():
            downloadable = resource.open_type is OpenType.unconditional
            distributions.append(
                Distribution(
                    id=f"{resource.code}-{ext}", format=label, media_type=media_type,
                    url=f"{base_url}/open/{resource.code}/download.{ext}" if downloadable
                    else f"{base_url}/open/{resource.code}/apply",
                    downloadable=downloadable,
                )
            )  # fmt: skip
    return OpenDataset(
        code=resource.code, name=resource.name, abstract=resource.abstract,
        unit_code=resource.provider_unit_code, unit_name=resource.provider_unit_name,
        region_code=resource.region_code, open_type=resource.open_type.value,
        open_condition=resource.open_condition, update_cycle=resource.update_cycle.value,
        keywords=list(resource.keywords), themes=list(resource.theme_tags),
        bases=[b.value for b in resource.base_tags],
        items=[(i.name, i.data_type.value, i.meaning) for i in resource.items],
        publish_date=resource.publish_date, updated_at=resource.updated_at,
        created_at=resource.created_at, row_count=table.row_count if table else None,
        level=grading.level_of(session, resource.code), distributions=distributions,
    )  # fmt: skip


def dataset(session: Session, code: str, base_url: str = "") -> OpenDataset:
    """One open dataset; 404 for anything not open."""
    resource = _open_resource(session, code)
    return _dataset(session, resource, datastore.table_of(session, code), base_url)


def datasets(session: Session, base_url: str = "") -> list[OpenDataset]:
    """Every open dataset, by code."""
    resources = [r for r in catalog.registered_resources(session) if is_open(r)]
    tables = datastore.tables_of(session, [r.code for r in resources])
    return [_dataset(session, r, tables.get(r.code), base_url) for r in resources]


# --- downloads ---------------------------------------------------------------------------------


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _with_token(session: Session, number: str, token: str) -> OpenApplication | None:
    """The application if the token is its own (the applicant's proof), else ``None``."""
    application = repository.by_number(session, number)
    if application is None or not secrets.compare_digest(application.tracking_hash, _hash(token)):
        return None
    return application


def _approved_application(session: Session, code: str, number: str, token: str) -> OpenApplication:
    application = _with_token(session, number, token)
    if application is None:
        raise Forbidden("this download needs an approved application and its token", field="token")
    if application.resource_code != code:
        raise Forbidden(f"application {number} is for another dataset", field="application")
    if application.status != ApplicationStatus.approved.value:
        raise Forbidden(f"application {number} is {application.status}", field="application")
    if application.valid_until is not None and application.valid_until < datetime.now(UTC):
        raise Forbidden(f"application {number} expired on {application.valid_until:%Y-%m-%d}",
                        field="application")  # fmt: skip
    return application


def export(
    session: Session,
    code: str,
    fmt: str,
    *,
    application: str = "",
    token: str = "",
) -> tuple[str, str, bytes]:
    """A dataset's rows as a file: (file name, media type, content). Built whole, inside the
    transaction that checked the right to it."""
    if fmt not in FORMATS:
        raise NotFound(f"no format {fmt} (csv, json or xlsx)", field="format")
    resource = _open_resource(session, code)
    table = datastore.table_of(session, code)
    if table is None:
        raise NotFound(f"{code} has no rows to download", field="code")
    if resource.open_type is OpenType.conditional:
        approved = _approved_application(session, code, application, token)
        approved.downloads += 1
        session.flush()
        ledger.record(
            session, Actor(name=f"applicant:{approved.applicant}", unit=approved.credit_code),
            "open.download", object_type="data_resource", object_id=code,
            reason=approved.purpose[:200], case_number=approved.number,
            details={"format": fmt, "rows": table.row_count},
        )  # fmt: skip
    names = [c.name for c in table.columns]
    rows = datastore.iter_rows(session, code)
    content = {"csv": _csv, "json": _json, "xlsx": _xlsx}[fmt](names, rows, resource)
    return f"{code}.{fmt}", FORMATS[fmt][1], b"".join(content)


def _csv(names: list[str], rows: Iterator[dict[str, Any]], _: ResourceRead) -> Iterator[bytes]:
    buffer = io.StringIO()
    buffer.write("\ufeff")  # the BOM lets spreadsheets read UTF-8
    writer = csv.writer(buffer)
    writer.writerow(names)
    for n, row in enumerate(rows, start=1):
        writer.writerow(["" if row.get(c) is None else row.get(c) for c in names])
        if n % 500 == 0:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()


def _json(
    names: list[str], rows: Iterator[dict[str, Any]], resource: ResourceRead
) -> Iterator[bytes]:
    head = {"dataset": resource.code, "name": resource.name,
            "fields": [{"name": i.name, "type": i.data_type.value} for i in resource.items]}  # fmt: skip
    yield json.dumps(head, ensure_ascii=False)[:-1].encode() + b', "records": ['
    for n, row in enumerate(rows):
        record = {c: row.get(c) for c in names}
        yield (b"," if n else b"") + json.dumps(record, ensure_ascii=False).encode()
    yield b"]}"


def _xlsx(
    names: list[str], rows: Iterator[dict[str, Any]], resource: ResourceRead
) -> Iterator[bytes]:
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet(title="data")
    sheet.append(names)
    for row in rows:
        sheet.append([row.get(c) for c in names])
    buffer = io.BytesIO()
    book.save(buffer)
    yield buffer.getvalue()


# --- applications ------------------------------------------------------------------------------


def _read(session: Session, applications: list[OpenApplication]) -> list[ApplicationRead]:
    names: dict[str, str] = {}
    for a in applications:
        if a.resource_code not in names:
            try:
                names[a.resource_code] = catalog.get_resource(session, a.resource_code).name
            except NotFound:
                names[a.resource_code] = ""
    return [
        ApplicationRead.model_validate(a).model_copy(
            update={"resource_name": names[a.resource_code]}
        )
        for a in applications
    ]


def apply(session: Session, code: str, data: ApplicationCreate) -> ApplicationReceipt:
    """Apply to use a conditionally open dataset. The receipt's token is shown once: with the
    number, it follows the application and, once approved, downloads the rows."""
    resource = _open_resource(session, code)
    if resource.open_type is not OpenType.conditional:
        raise Conflict(f"{code} is open without conditions: download it directly", field="code")
    prefix = f"OA{clock.today():%Y%m%d}"  # the city's day, as every number
    number = f"{prefix}{repository.count_with_prefix(session, prefix) + 1:04d}"
    token = secrets.token_urlsafe(24)
    application = OpenApplication(
        number=number, resource_code=code, provider_unit_code=resource.provider_unit_code,
        status=ApplicationStatus.pending.value, tracking_hash=_hash(token), **data.model_dump(),
    )  # fmt: skip
    repository.add(session, application)
    ledger.record(
        session, PORTAL, "open.apply", object_type="data_resource", object_id=code,
        reason=data.purpose[:200], case_number=number,
        details={"applicant": data.applicant, "organisation": data.organisation,
                 "credit_code": data.credit_code, "days": data.days},
    )  # fmt: skip
    return ApplicationReceipt(number=number, token=token, status=ApplicationStatus.pending)


def follow(session: Session, number: str, token: str) -> ApplicationRead:
    """The applicant's view of their application (needs the token from the receipt)."""
    application = _with_token(session, number, token)
    if application is None:
        raise NotFound(f"no application {number} with this token", field="number")
    return _read(session, [application])[0]


def _may_decide(principal: Principal, application: OpenApplication) -> bool:
    return principal.has_role(Role.platform_admin) or (
        principal.unit_code == application.provider_unit_code
    )


def inbox(
    session: Session, principal: Principal, status: str | None = None
) -> list[ApplicationRead]:
    """Applications for the principal's unit's data (every unit's, for the platform)."""
    everything = principal.has_role(Role.platform_admin)
    found = repository.applications(
        session, unit_code=None if everything else principal.unit_code, status=status
    )
    return _read(session, found)


def get_application(session: Session, principal: Principal, number: str) -> ApplicationRead:
    application = repository.by_number(session, number)
    if application is None or not _may_decide(principal, application):
        raise NotFound(f"no application {number}", field="number")
    return _read(session, [application])[0]


def decide(
    session: Session, principal: Principal, number: str, data: ApplicationDecision
) -> ApplicationRead:
    """Approve (for the days asked, or fewer) or refuse with a reason."""
    application = repository.by_number(session, number)
    if application is None or not _may_decide(principal, application):
        raise NotFound(f"no application {number}", field="number")
    if application.status != ApplicationStatus.pending.value:
        raise Conflict(f"application {number} is already {application.status}", field="status")
    if not data.approve and not data.reason.strip():
        raise InvalidInput("say why the application is refused", field="reason")
    if data.days is not None and data.days > application.days:
        raise InvalidInput(f"the applicant asked for {application.days} days; grant that or fewer",
                           field="days")  # fmt: skip
    now = datetime.now(UTC)
    application.status = (
        ApplicationStatus.approved if data.approve else ApplicationStatus.refused
    ).value
    application.decided_by, application.decided_at, application.reason = (
        principal.username,
        now,
        data.reason,
    )
    if data.approve:
        application.days = data.days or application.days
        application.valid_until = now + timedelta(days=application.days)
    session.flush()
    ledger.record(
        session, actor_of(principal), f"open.application.{application.status}",
        object_type="data_resource", object_id=application.resource_code, reason=data.reason,
        case_number=number, details={"days": application.days if data.approve else None},
    )  # fmt: skip
    return _read(session, [application])[0]


def withdraw(session: Session, number: str, token: str) -> ApplicationRead:
    application = _with_token(session, number, token)
    if application is None:
        raise NotFound(f"no application {number} with this token", field="number")
    if application.status != ApplicationStatus.pending.value:
        raise Conflict(f"application {number} is already {application.status}", field="status")
    application.status = ApplicationStatus.withdrawn.value
    session.flush()
    ledger.record(session, PORTAL, "open.application.withdrawn", object_type="data_resource",
                  object_id=application.resource_code, case_number=number)  # fmt: skip
    return _read(session, [application])[0]


def pending_counts(session: Session) -> dict[str, int]:
    return repository.pending_counts(session)
