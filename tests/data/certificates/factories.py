"""A small city with two issuing units (the health commission and the market regulator, each
with a credit code and a certificate manager), a unit with no part in certificates, and two
certificate types: the birth medical certificate (出生医学证明) and the business licence
(营业执照)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from citybase.core.codes import citizen_id_check_char, credit_code_check_char
from citybase.core.identity.schemas import Principal, Role
from citybase.core.ledger.schemas import Actor
from citybase.core.orgs import service as orgs
from citybase.core.orgs.schemas import UnitCreate
from citybase.data.certificates import service
from citybase.data.certificates.schemas import (
    CertificateCreate,
    CertificateRead,
    CertificateTypeCreate,
)
from tests.core.identity.factories import make_user, principal_of
from tests.core.orgs.factories import make_small_city

MASKING_KEY = "42" * 32
ACTOR = Actor.system("test")


def credit_code(body: str) -> str:
    first17 = (body + "0" * 17)[:17]
    return first17 + credit_code_check_char(first17)


def citizen_id(n: int = 1) -> str:
    first17 = f"35010219900101{n:03d}"
    return first17 + citizen_id_check_char(first17)


HEALTH_CODE = credit_code("11350100MB0H")
MARKET_CODE = credit_code("11350100MB0M")
BIRTH = credit_code("11100000MB0NHC") + "001"
LICENCE = credit_code("11100000MB0XAM") + "002"


@dataclass
class CertCity:
    health: Principal  # fz.health's certificate manager
    market: Principal  # fz.market's certificate manager
    health_admin: Principal  # fz.health's unit admin: may read, not issue
    stranger: Principal  # fz.urban's certificate manager: issues no type
    auditor: Principal


def cert_city(session: Session) -> CertCity:
    make_small_city(session)
    for code, name, credit in (("fz.health", "福州市卫生健康委员会", HEALTH_CODE),
                               ("fz.market", "福州市市场监督管理局", MARKET_CODE)):  # fmt: skip
        orgs.create_unit(session, ACTOR, UnitCreate(code=code, name=name, region_code="350100",
                                                    credit_code=credit))  # fmt: skip
    make_user(session, "healthcert", Role.certificate_manager, unit="fz.health")
    make_user(session, "marketcert", Role.certificate_manager, unit="fz.market")
    make_user(session, "healthadmin", Role.unit_admin, unit="fz.health")
    make_user(session, "urbancert", Role.certificate_manager, unit="fz.urban")
    make_user(session, "certaudit", Role.auditor, unit="fz.bigdata")
    service.define_certificate_type(session, ACTOR, CertificateTypeCreate.model_validate({
        "code": BIRTH, "name": "出生医学证明", "holder_kind": "person",
        "issuer_kind": "卫生健康行政部门", "issuer_units": ["fz.health"],
        "fields": [
            {"name": "sex", "label": "性别", "kind": "choice", "choices": ["男", "女"]},
            {"name": "birth_date", "label": "出生日期", "kind": "date"},
            {"name": "mother", "label": "母亲姓名"},
            {"name": "weight_g", "label": "出生体重（克）", "kind": "number", "required": False},
        ],
    }))  # fmt: skip
    service.define_certificate_type(session, ACTOR, CertificateTypeCreate.model_validate({
        "code": LICENCE, "name": "营业执照", "holder_kind": "enterprise",
        "issuer_kind": "市场监督管理部门", "issuer_units": ["fz.market"], "validity_years": 20,
        "fields": [{"name": "legal_person", "label": "法定代表人"},
                   {"name": "scope", "label": "经营范围"}],
    }))  # fmt: skip
    return CertCity(*(principal_of(session, u) for u in
                      ("healthcert", "marketcert", "healthadmin", "urbancert", "certaudit")))  # fmt: skip


def birth(**overrides: Any) -> CertificateCreate:
    values: dict[str, Any] = {
        "type_code": BIRTH, "holder_name": "林小雨", "holder_id": citizen_id(1),
        "fields": {"sex": "女", "birth_date": "2026-11-30", "mother": "陈静", "weight_g": "3250"},
    }  # fmt: skip
    values.update(overrides)
    return CertificateCreate.model_validate(values)


def licence(**overrides: Any) -> CertificateCreate:
    values: dict[str, Any] = {
        "type_code": LICENCE, "holder_name": "福州闽江餐饮有限公司",
        "holder_id": credit_code("91350100MA2Y"),
        "fields": {"legal_person": "王强", "scope": "餐饮服务"},
    }  # fmt: skip
    values.update(overrides)
    return CertificateCreate.model_validate(values)


def issue_birth(session: Session, city: CertCity, **overrides: Any) -> CertificateRead:
    return service.issue_certificate(session, city.health, birth(**overrides), MASKING_KEY)
