"""A city whose base library knows its residents (the baselib factories' two units, linked),
an applicant account tied to one resident, and a two-unit item whose second matter needs the
first's result."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from citybase.core.identity.schemas import Principal, Role
from citybase.core.ledger.schemas import Actor
from citybase.core.orgs import service as orgs
from citybase.core.orgs.schemas import UnitUpdate
from citybase.core.settings import Settings
from citybase.data.baselib import service as baselib
from citybase.data.baselib.schemas import Kind
from citybase.data.catalog import service as catalog
from citybase.data.catalog.schemas import Transition
from citybase.data.certificates import service as certificates
from citybase.data.certificates.schemas import CertificateCreate, CertificateTypeCreate
from citybase.data.datastore import service as datastore
from citybase.data.masking import operators as ops
from citybase.services.onething import service
from citybase.services.onething.schemas import ApplicantKind, ApplicantRegister, ItemSpec
from tests.core.identity.factories import make_user, principal_of
from tests.data.baselib.factories import LinkedCity, linked_city
from tests.data.catalog.factories import resource_data
from tests.data.certificates.factories import credit_code
from tests.data.sharing.factories import citizen_id

ACTOR = Actor.system("test")


RESIDENCE = credit_code("11100000MB0MPB") + "001"  # a person's certificate type (居住证)


def item_spec(resource_code: str, **changes: Any) -> ItemSpec:
    spec: dict[str, Any] = {
        "code": "test.thing", "name": "测试一件事", "lead_unit": "fz.health",
        "legal_basis": "国办发〔2025〕24号",
        "sources": {"违法事由": {"resource": resource_code, "item": "违法事由",
                                 "key": "公民身份号码"}},
        "matters": [
            {"code": "first", "name": "健康登记", "unit": "fz.health", "days": 5,
             "fields": [{"element": "姓名"}, {"element": "公民身份号码"},
                        {"element": "手机号码"}, {"element": "办理事由"}],
             "materials": [{"code": "photo", "name": "近期免冠照片"}]},
            {"code": "second", "name": "城管备案", "unit": "fz.urban", "days": 3,
             "needs": ["first"],
             "fields": [{"element": "姓名"}, {"element": "住址"}, {"element": "违法事由"}],
             "materials": [{"code": "photo", "name": "近期免冠照片"},
                           {"code": "licence", "name": "居住证", "certificate": RESIDENCE}]},
        ],
    }  # fmt: skip
    spec.update(changes)
    return ItemSpec.model_validate(spec)


@dataclass
class OneThingCity:
    linked: LinkedCity
    applicant: Principal
    other: Principal  # another applicant, of another resident
    keeper: Principal  # the bureau's steward
    health: Principal  # a case handler of fz.health
    urban: Principal  # a case handler of fz.urban
    number: str  # the applicant's citizen ID


def onething_city(session: Session, settings: Settings, *, linked: bool = True) -> OneThingCity:
    city = linked_city(session, settings)
    keys = ops.keys_for(settings.masking_key)
    if linked:
        baselib.link_base_library(session, city.steward, Kind.person, settings.baselib, keys)
    make_user(session, "zhangsan", Role.applicant)
    make_user(session, "lisi", Role.applicant)
    make_user(session, "healthhandler", Role.case_handler, unit="fz.health")
    make_user(session, "urbanhandler", Role.case_handler, unit="fz.urban")
    number = citizen_id(3)
    service.register_applicant(session, None, ApplicantRegister(
        username="zhangsan", kind=ApplicantKind.person, number=number), keys)  # fmt: skip
    service.register_applicant(session, None, ApplicantRegister(
        username="lisi", kind=ApplicantKind.person, number=citizen_id(4)), keys)  # fmt: skip
    orgs.update_unit(
        session, ACTOR, "fz.health", UnitUpdate(credit_code=credit_code("11350100MB0H"))
    )
    make_user(session, "healthcert", Role.certificate_manager, unit="fz.health")
    certificates.define_certificate_type(session, ACTOR, CertificateTypeCreate.model_validate({
        "code": RESIDENCE, "name": "居住证", "holder_kind": "person", "issuer_kind": "测试",
        "issuer_units": ["fz.health"], "fields": [{"name": "address", "label": "居住地址"}],
    }))  # fmt: skip
    certificates.issue_certificate(session, principal_of(session, "healthcert"), CertificateCreate(
        type_code=RESIDENCE, holder_name="张三", holder_id=number,
        fields={"address": "鼓楼区五四路"}), settings.masking_key)  # fmt: skip
    service.save_item(session, None, item_spec(city.shared.resource.code))
    return OneThingCity(
        city,
        principal_of(session, "zhangsan"),
        principal_of(session, "lisi"),
        city.steward,
        principal_of(session, "healthhandler"),
        principal_of(session, "urbanhandler"),
        number,
    )


DEATH_ITEMS = [
    {"name": "死者姓名", "data_type": "string", "length": 50},
    {"name": "死者公民身份号码", "data_type": "string", "length": 18},
    {"name": "家属公民身份号码", "data_type": "string", "length": 18},
]


def death_record(
    session: Session, settings: Settings, city: OneThingCity, elder: str, *, family: str
) -> str:
    """The hospital's death record of ``elder`` naming ``family`` as the family member (a
    fz.health resource, shared unconditionally), and a 居住证 issued to the elder while alive;
    an item whose material is the elder's certificate, found through that record. Returns the
    certificate's identifier."""
    steward = city.linked.health_steward
    resource = catalog.create_resource(session, steward, resource_data(
        name="居民死亡医学证明信息", provider_unit_code="fz.health", items=DEATH_ITEMS,
        share_type="unconditional", base_tags=[], theme_tags=["医疗健康"],
    ))  # fmt: skip
    catalog.transition(session, steward, resource.code, "submit", Transition())
    for action in ("approve", "register", "publish"):
        catalog.transition(session, city.linked.steward, resource.code, action, Transition())
    datastore.load_rows(session, steward, resource.code, [
        {"死者姓名": "张老汉", "死者公民身份号码": elder, "家属公民身份号码": family},
    ], "test")  # fmt: skip
    made = certificates.issue_certificate(session, principal_of(session, "healthcert"),
                                          CertificateCreate(type_code=RESIDENCE,
                                                            holder_name="张老汉", holder_id=elder,
                                                            fields={"address": "鼓楼区杨桥路"}),
                                          settings.masking_key)  # fmt: skip
    service.save_item(session, None, ItemSpec.model_validate({
        "code": "test.after_death", "name": "身后一件事", "lead_unit": "fz.health",
        "sources": {"逝者公民身份号码": {"resource": resource.code, "item": "死者公民身份号码",
                                         "key": "家属公民身份号码"}},
        "matters": [{"code": "stop", "name": "待遇停发", "unit": "fz.health", "days": 5,
                     "fields": [{"element": "公民身份号码"}, {"element": "逝者公民身份号码"}],
                     "materials": [{"code": "elder_card", "name": "逝者居住证",
                                    "certificate": RESIDENCE,
                                    "holder": "逝者公民身份号码"}]}],
    }))  # fmt: skip
    return made.identifier
