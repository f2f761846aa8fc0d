"""Offers made unasked (免申即办): the persons the data says qualify for an item are offered it,
read through the traced read under the platform's proactive-service basis; they confirm (the
same number, submitted) or decline."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy.orm import Session

from citybase.core import clock
from citybase.core.identity import service as identity
from citybase.core.identity.schemas import Principal
from citybase.core.identity.service import actor_of
from citybase.core.ledger import service as ledger
from citybase.core.ledger.schemas import Actor
from citybase.core.settings import Settings
from citybase.data.baselib import service as baselib
from citybase.data.baselib.schemas import Kind
from citybase.data.masking import operators as ops
from citybase.data.sharing import service as sharing
from citybase.data.sharing.schemas import Basis, ReadContext
from citybase.services.onething import repository
from citybase.services.onething.applications import (
    my_applications,
    new_number,
    offer_of,
    publish_change,
    read_application,
)
from citybase.services.onething.catalog_items import WORK
from citybase.services.onething.models import Application
from citybase.services.onething.schemas import (
    ApplicantKind,
    ApplicationRead,
    ApplicationState,
    ItemSpec,
)

A = ApplicationState


# --- offers made unasked (免申即办) ----------------------------------------------------------------


def _age(birth: date, today: date) -> int:
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


def _as_date(value: Any) -> date | None:
    text = str(value or "").strip().replace("/", "-")
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        return None


def make_offers(
    session: Session, settings: Settings, keys: ops.Keys, *, today: date | None = None,
    now: datetime | None = None,
) -> int:  # fmt: skip
    """Offer the items with a proactive rule to the registered persons the data says qualify —
    their age reached, read from their file under the platform's proactive-service basis,
    through the traced read — once each; the person confirms or declines."""
    now = now or datetime.now(UTC)
    today = today or clock.today()
    made = 0
    for row in repository.items(session, active_only=True):
        spec = ItemSpec.model_validate(row.spec)
        rule = spec.proactive
        if rule is None or spec.applicant is not ApplicantKind.person:
            continue
        lib_birth = baselib.field_of_element(Kind.person, rule.element)
        lib_sex = baselib.field_of_element(Kind.person, "性别")
        for applicant in repository.applicants(session, ApplicantKind.person.value):
            if repository.has_application(session, spec.code, applicant.subject_tag):
                continue
            principal = identity.principal_for(
                session, identity.get_user(session, applicant.user_id).username
            )
            basis = Basis(kind="proactive", ref=f"{spec.code}:{principal.username}",
                          legal_basis=f"免申即办（{spec.legal_basis or spec.name}）",
                          fields=(), purpose=f"一件事「{spec.name}」免申即办资格核验",
                          consumer=spec.lead_unit, action="onething.offer.check", in_clear=True)  # fmt: skip
            file = baselib.read_file_under(session, principal, Kind.person, applicant.subject_tag,
                                           ReadContext(purpose=basis.purpose), keys,
                                           settings.baselib, basis)  # fmt: skip
            if file is None or isinstance(file, sharing.Refused):
                continue
            got = {f.field: f.value for f in file.fields}
            number = str(got.get(baselib.key_field(Kind.person)) or "")
            # the birth date the citizen ID carries (GB 11643, fixed at registration), else
            # the file's: a golden 出生日期 can come from a row about someone else's birth
            birth = _as_date(
                f"{number[6:10]}-{number[10:12]}-{number[12:14]}" if len(number) == 18 else ""
            ) or _as_date(got.get(lib_birth or ""))
            if birth is None:
                continue
            sex = str(got.get(lib_sex or "") or "")
            if not sex and len(number) == 18 and number[16].isdigit():
                sex = "男" if int(number[16]) % 2 else "女"
            age = rule.min_age_by_sex.get(sex, rule.min_age)
            if _age(birth, today) < age:
                continue
            app = Application(number=new_number(session, now), item_code=spec.code,
                              user_id=applicant.user_id, kind=applicant.kind,
                              subject_tag=applicant.subject_tag, state=A.offered, proactive=True,
                              note=f"您已年满 {age} 周岁，可免申请办理「{spec.name}」")  # fmt: skip
            repository.add(session, app)
            ledger.record(session, Actor.system(WORK), "onething.offer.made",
                          object_type="onething_application", object_id=app.number,
                          reason=basis.legal_basis, details={"item": spec.code,
                                                             "read": file.access_id})  # fmt: skip
            publish_change(session, app)
            made += 1
    return made


def decline_offer(session: Session, principal: Principal, number: str) -> ApplicationRead:
    app = offer_of(session, principal, number)
    app.state = A.declined
    ledger.record(session, actor_of(principal), "onething.offer.declined",
                  object_type="onething_application", object_id=number)  # fmt: skip
    publish_change(session, app)
    return read_application(session, app)


def offers_of(session: Session, principal: Principal) -> list[ApplicationRead]:
    return [a for a in my_applications(session, principal) if a.state == A.offered]
