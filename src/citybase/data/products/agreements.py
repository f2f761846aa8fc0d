"""Authorized operation (授权运营): the bureau grants an operator company an agreement, reviews
it, the operator signs it, the bureau suspends (and resumes) or ends it. Each step is on the
ledger; everything an operator does later derives from an agreement live on that day."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy.orm import Session

from citybase.core import clock
from citybase.core.codes import is_credit_code
from citybase.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from citybase.core.identity.schemas import Principal, Role
from citybase.core.identity.service import actor_of
from citybase.core.ledger import service as ledger
from citybase.core.ledger.schemas import Actor
from citybase.core.orgs import service as orgs
from citybase.core.orgs.schemas import UnitKind
from citybase.core.settings import ProductsSettings
from citybase.data.catalog import service as catalog
from citybase.data.products import repository
from citybase.data.products.auth import PRODUCTS_GOVERN
from citybase.data.products.models import OperationAgreement
from citybase.data.products.schemas import (
    AgreementAction,
    AgreementCreate,
    AgreementRead,
    AgreementReview,
    AgreementStatus,
)

# the rules a refusal names, so that the caller can tell which one it broke
RULE_BUREAU = "products.bureau_only"
RULE_OPERATOR = "agreement.operator_registered"
RULE_LIVE = "agreement.live"
RULE_OWN = "agreement.own_company"
RULE_STEP = "agreement.step"


# --- who may -------------------------------------------------------------------------------------


def is_bureau(principal: Principal, settings: ProductsSettings) -> bool:
    """Platform admins, and the data stewards of the bureau's unit."""
    if principal.has_role(Role.platform_admin):
        return True
    return bool(
        settings.bureau_unit
        and principal.unit_code == settings.bureau_unit
        and principal.can(PRODUCTS_GOVERN)
    )


def require_bureau(principal: Principal, settings: ProductsSettings) -> None:
    if not is_bureau(principal, settings):
        raise Forbidden(
            "only the data stewards of "
            f"{settings.bureau_unit or 'the platform'} act for the bureau here (rule {RULE_BUREAU})",
            field="unit", rule=RULE_BUREAU,
        )  # fmt: skip


# --- reading --------------------------------------------------------------------------------------


def is_live(agreement: OperationAgreement, on: date | None = None) -> bool:
    day = on or clock.today()
    return agreement.status == "signed" and agreement.starts_on <= day <= agreement.ends_on


def why_not_live(agreement: OperationAgreement, on: date | None = None) -> str:
    day = on or clock.today()
    if agreement.status in ("granted", "reviewed"):
        return f"agreement {agreement.number} is not signed yet"
    if agreement.status != "signed":
        return f"agreement {agreement.number} is {agreement.status}"
    if day < agreement.starts_on:
        return f"agreement {agreement.number} starts on {agreement.starts_on}"
    if day > agreement.ends_on:
        return f"agreement {agreement.number} expired on {agreement.ends_on}"
    return ""


def read_agreements(session: Session, rows: list[OperationAgreement]) -> list[AgreementRead]:
    names = orgs.unit_names(session, {a.operator_unit_code for a in rows})
    return [
        AgreementRead.model_validate(a).model_copy(
            update={"operator_unit_name": names.get(a.operator_unit_code, ""), "live": is_live(a)}
        )
        for a in rows
    ]


def get_accessible_agreements(
    session: Session, principal: Principal, settings: ProductsSettings
) -> list[AgreementRead]:
    """The bureau sees every agreement; an operator its own company's."""
    if is_bureau(principal, settings):
        return read_agreements(session, repository.agreements(session))
    return read_agreements(session, repository.agreements(session, principal.unit_code or "-"))


def _accessible(
    session: Session, principal: Principal, settings: ProductsSettings, agreement_id: int
) -> OperationAgreement:
    agreement = repository.agreement(session, agreement_id)
    if agreement is None or not (
        is_bureau(principal, settings) or agreement.operator_unit_code == principal.unit_code
    ):
        raise NotFound(f"no agreement {agreement_id}", field="agreement")  # not: whose it is
    return agreement


def get_accessible_agreement(
    session: Session, principal: Principal, settings: ProductsSettings, agreement_id: int
) -> AgreementRead:
    return read_agreements(session, [_accessible(session, principal, settings, agreement_id)])[0]


def live_agreement(
    session: Session, principal: Principal, number: str, on: date | None = None
) -> OperationAgreement:
    """The agreement an operator acts under: its own company's, live on the day, else refused
    naming the rule."""
    agreement = repository.agreement_by_number(session, number) if number else None
    if agreement is None or agreement.operator_unit_code != principal.unit_code:
        raise Forbidden(
            f"{principal.unit_code or 'your unit'} holds no operation agreement {number or ''}"
            .strip() + "; an operator registers products only under its own live agreement "
            f"(rule {RULE_OWN})",
            field="agreement_number", rule=RULE_OWN,
        )  # fmt: skip
    reason = why_not_live(agreement, on)
    if reason:
        raise Forbidden(
            f"{reason}: an operator acts only under a live agreement (rule {RULE_LIVE})",
            field="agreement_number", rule=RULE_LIVE,
        )  # fmt: skip
    return agreement


# --- the steps ------------------------------------------------------------------------------------


def _operator_credit_code(session: Session, unit_code: str) -> str:
    try:
        unit = orgs.get_unit(session, unit_code)
    except NotFound:
        raise InvalidInput(
            f"no unit {unit_code}: register the operator company as an organisation first",
            field="operator_unit_code", rule=RULE_OPERATOR,
        ) from None  # fmt: skip
    if not unit.active or unit.kind is not UnitKind.enterprise:
        raise InvalidInput(
            f"{unit.name} is not an active company (kind enterprise): only a company operates",
            field="operator_unit_code", rule=RULE_OPERATOR,
        )  # fmt: skip
    if not unit.credit_code or not is_credit_code(unit.credit_code):
        raise InvalidInput(
            f"{unit.name} has no valid unified social credit code (GB 32100): record it first",
            field="operator_unit_code", rule=RULE_OPERATOR,
        )  # fmt: skip
    return unit.credit_code


def grant_agreement(
    session: Session, principal: Principal, settings: ProductsSettings, data: AgreementCreate
) -> AgreementRead:
    """The bureau grants an operator an agreement (to be reviewed, then signed)."""
    require_bureau(principal, settings)
    credit_code = _operator_credit_code(session, data.operator_unit_code)
    known = set(catalog.all_codes(session))
    unknown = [c for c in data.resource_codes if c not in known]
    if unknown:
        raise InvalidInput(f"no catalog resource {', '.join(unknown[:5])}", field="resource_codes")
    agreement = OperationAgreement(
        number=repository.next_number(session, OperationAgreement, f"SQYY-{clock.today().year}"),
        operator_credit_code=credit_code, granted_by=actor_of(principal).name,
        status=AgreementStatus.granted.value, **data.model_dump(mode="python"),
    )  # fmt: skip
    repository.add(session, agreement)
    _record(session, principal, agreement, "grant", "授予授权运营协议")
    return read_agreements(session, [agreement])[0]


STEPS: dict[str, tuple[tuple[str, ...], str]] = {
    # action: (from states, to state)
    "approve": (("granted",), "reviewed"),
    "reject": (("granted",), "rejected"),
    "sign": (("reviewed",), "signed"),
    "suspend": (("signed",), "suspended"),
    "resume": (("suspended",), "signed"),
    "end": (("signed", "suspended", "reviewed"), "ended"),
}


def _step(agreement: OperationAgreement, action: str) -> str:
    sources, target = STEPS[action]
    if agreement.status not in sources:
        raise Conflict(
            f"agreement {agreement.number} is {agreement.status}: it cannot {action} "
            f"(only from {', '.join(sources)})",
            field="status", rule=RULE_STEP,
        )  # fmt: skip
    return target


def review_agreement(
    session: Session, principal: Principal, settings: ProductsSettings, agreement_id: int,
    data: AgreementReview,
) -> AgreementRead:  # fmt: skip
    require_bureau(principal, settings)
    agreement = _accessible(session, principal, settings, agreement_id)
    action = "approve" if data.approve else "reject"
    agreement.status = _step(agreement, action)
    agreement.reviewed_by = actor_of(principal).name
    agreement.last_reason = data.reason
    _record(session, principal, agreement, f"review.{action}", data.reason)
    return read_agreements(session, [agreement])[0]


def sign_agreement(
    session: Session, principal: Principal, settings: ProductsSettings, agreement_id: int,
    data: AgreementAction,
) -> AgreementRead:  # fmt: skip
    """The operator signs its reviewed agreement (a platform admin may record it for them)."""
    agreement = _accessible(session, principal, settings, agreement_id)
    if agreement.operator_unit_code != principal.unit_code and not principal.has_role(
        Role.platform_admin
    ):
        raise Forbidden(
            f"agreement {agreement.number} is signed by its operator, "
            f"{agreement.operator_unit_code}", field="unit", rule=RULE_OWN,
        )  # fmt: skip
    agreement.status = _step(agreement, "sign")
    agreement.signed_by = actor_of(principal).name
    agreement.signed_at = datetime.now(UTC)
    agreement.last_reason = data.reason
    _record(session, principal, agreement, "sign", data.reason)
    return read_agreements(session, [agreement])[0]


def change_agreement(
    session: Session, principal: Principal, settings: ProductsSettings, agreement_id: int,
    action: str, data: AgreementAction,
) -> OperationAgreement:  # fmt: skip
    """Suspend, resume or end (the bureau). Delisting what it carried is the caller's."""
    if action not in ("suspend", "resume", "end"):
        raise InvalidInput(f"no step {action}: suspend, resume or end", field="action")
    require_bureau(principal, settings)
    agreement = _accessible(session, principal, settings, agreement_id)
    agreement.status = _step(agreement, action)
    agreement.last_reason = data.reason
    if action == "end":
        agreement.ended_at = datetime.now(UTC)
    _record(session, principal, agreement, action, data.reason)
    return agreement


TERM = Actor.system("products-term")  # who records an agreement's end at its last day
END_OF_TERM = "协议期满：授权运营终止，其下数据产品下架"


def record_ends_of_term(session: Session, today: date | None = None) -> list[OperationAgreement]:
    """Agreements signed or suspended whose last day is past (the city's day): marked ended,
    each with its ledger entry ``products.agreement.expire``. Delisting what they carried is
    the caller's (``service.record_agreement_ends``)."""
    day = today or clock.today()
    ended = repository.agreements_past_end(session, day)
    for agreement in ended:
        agreement.status = "ended"
        agreement.ended_at = datetime.now(UTC)
        agreement.last_reason = END_OF_TERM
        _record_as(session, TERM, agreement, "expire", END_OF_TERM)
    return ended


def _record(
    session: Session, principal: Principal, agreement: OperationAgreement, what: str, reason: str
) -> None:
    _record_as(session, actor_of(principal), agreement, what, reason)


def _record_as(
    session: Session, actor: Actor, agreement: OperationAgreement, what: str, reason: str
) -> None:
    ledger.record(
        session, actor, f"products.agreement.{what}",
        object_type="operation_agreement", object_id=agreement.number, reason=reason,
        details={"operator": agreement.operator_unit_code,
                 "credit_code": agreement.operator_credit_code, "status": agreement.status,
                 "starts_on": agreement.starts_on.isoformat(),
                 "ends_on": agreement.ends_on.isoformat()},
    )  # fmt: skip


def covers(agreement: OperationAgreement, code: str, themes: list[str]) -> bool:
    """Whether a resource (by code, or by one of its theme libraries) is within the agreement."""
    return code in agreement.resource_codes or bool(set(themes) & set(agreement.themes))
