"""The trace every read leaves, allowed or refused: one ledger entry and one row of the access
log (``ShareAccess``), with the data subjects it served indexed by keyed hash. The reads
themselves (under a grant, under another basis, of one's own data, of held values) are in
``access.py``; this is what they have in common.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy.orm import Session

from citybase.core import clock
from citybase.core.errors import CitybaseError
from citybase.core.identity.schemas import Principal
from citybase.core.identity.service import actor_of
from citybase.core.ledger import service as ledger
from citybase.data.catalog.schemas import ResourceRead
from citybase.data.grading.schemas import Level
from citybase.data.masking.schemas import MaskPlan
from citybase.data.sharing import repository
from citybase.data.sharing.models import ShareAccess, ShareGrant
from citybase.data.sharing.schemas import Basis, Outcome, ReadContext, Refusal

# personal information (一般数据 3 级 and up, or never graded): a read names its case and, for a
# system, the person behind it
PERSONAL_LEVELS = {"", Level.general_3, Level.general_4, Level.important, Level.core}

# 案件编号: the platform's numbers, letters then date then serial (SR202611220001, GD…), or an
# official document number (文号) such as 榕政办〔2026〕12号
CASE_NUMBER = re.compile(r"^(?P<prefix>[A-Z]{2,8})(?P<date>\d{8})(?P<serial>\d{4,8})$")
DOC_NUMBER = re.compile(
    r"^[\u4e00-\u9fa5]{1,12}[〔\[（(](?P<year>\d{4})[〕\]）)]第?(?P<serial>\d{1,6})号$"
)


def case_number_problem(value: str, today: date | None = None) -> str | None:
    """Why ``value`` is not a case number, or ``None`` when it is one."""
    today = today or clock.today()  # case numbers carry the city's day
    if match := CASE_NUMBER.match(value):
        try:
            when = datetime.strptime(match["date"], "%Y%m%d").replace(tzinfo=UTC).date()
        except ValueError:
            return f"{value}: {match['date']} is not a date"
        if when > today:
            return f"{value}: dated {when}, after today"
        return None
    if match := DOC_NUMBER.match(value):
        if not 1949 <= int(match["year"]) <= today.year:
            return f"{value}: {match['year']} is not a year a document can bear"
        return None
    return (
        f"{value!r} is not a case number: use the platform's (letters, date, serial, such as "
        "SR202611220001) or a document number (such as 榕政办〔2026〕12号)"
    )


@dataclass(frozen=True)
class Refused:
    refusal: Refusal
    message: str
    access_id: int

    def error(self) -> CitybaseError:
        error = CitybaseError(self.message, field=_FIELD.get(self.refusal), access=self.access_id)
        error.status_code = self.refusal.status
        error.code = self.refusal.value
        return error


_FIELD = {
    Refusal.case_number_required: "X-Citybase-Issue",
    Refusal.case_number_invalid: "X-Citybase-Issue",
    Refusal.end_user_required: "X-Citybase-UserId",
    Refusal.foreign_key: "X-Citybase-Client",
    Refusal.field_not_granted: "fields",
    Refusal.bad_query: "query",
    Refusal.purpose_required: "X-Citybase-Purpose",
}


@dataclass
class Read:
    """What one read is about, filled in as it is checked."""

    principal: Principal
    code: str
    ctx: ReadContext
    operation: str
    query: dict[str, Any]
    resource: ResourceRead | None = None
    grant: ShareGrant | None = None
    basis: Basis | None = None  # a basis other than a grant (a contract, a sandbox release…)
    legal_basis: str = ""
    purpose: str = ""
    fields: list[str] | None = None
    plan: MaskPlan | None = None
    provider_unit_code: str = ""  # when what is read is not a catalog resource
    action: str = "sharing.read"
    object_type: str = "data_resource"

    @property
    def consumer(self) -> str:
        return (self.basis.consumer if self.basis else "") or self.principal.unit_code

    @property
    def stated_purpose(self) -> str:
        return self.ctx.purpose or self.purpose


def log_read(
    session: Session,
    read: Read,
    outcome: Outcome,
    *,
    refusal: Refusal | None = None,
    message: str = "",
    rows: int = 0,
    subject_tags: list[str] | None = None,
    extra: dict[str, Any] | None = None,
) -> ShareAccess:
    """The ledger entry and the access-log row of one read (and its data subjects)."""
    principal, resource, grant = read.principal, read.resource, read.grant
    tags = sorted(set(subject_tags or []))
    query, basis = read.query, {}
    if read.basis is not None:  # the access log has no column of its own for it: in the query
        basis = {"basis": {"kind": read.basis.kind, "ref": read.basis.ref}}
        query = query | basis
    details: dict[str, Any] = {
        "operation": read.operation, "consumer": read.consumer,
        "api_key": principal.api_key_id, "end_user": read.ctx.end_user,
        "legal_basis": read.legal_basis, "grant": grant.id if grant else None,
        "fields": read.fields or [], "query": read.query, "rows": rows, **basis,
        **(extra or {}),
    }  # fmt: skip
    if refusal is not None:
        details.update(refusal=refusal.value, message=message)
    if tags:
        details["subjects"] = len(tags)
        details["subjects_digest"] = hashlib.sha256("".join(tags).encode()).hexdigest()
    seq = ledger.record(
        session, actor_of(principal),
        read.action if outcome is Outcome.allowed else f"{read.action}.refused",
        object_type=read.object_type,
        object_id=read.code, reason=read.stated_purpose,
        case_number=read.ctx.case_number, details=details,
    )  # fmt: skip
    access = ShareAccess(
        at=datetime.now(UTC), outcome=outcome.value, refusal=refusal.value if refusal else "",
        message=message, operation=read.operation, resource_code=read.code[:40],
        provider_unit_code=resource.provider_unit_code if resource else read.provider_unit_code,
        consumer_unit_code=read.consumer[:40], username=principal.username,
        api_key_id=principal.api_key_id, end_user=read.ctx.end_user,
        purpose=read.stated_purpose, legal_basis=read.legal_basis,
        case_number=read.ctx.case_number, grant_id=grant.id if grant else None,
        fields=read.fields or [], query=query, rows=rows, subjects=len(tags),
        ledger_seq=seq,
    )  # fmt: skip
    repository.add(session, access)
    repository.add_subjects(session, access.id, tags)
    return access


def refuse(session: Session, read: Read, refusal: Refusal, message: str) -> Refused:
    access = log_read(session, read, Outcome.refused, refusal=refusal, message=message)
    return Refused(refusal, message, access.id)
