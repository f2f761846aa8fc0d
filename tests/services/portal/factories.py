"""The market register (法人单位基本信息) of the one-thing city: three firms, each naming its
legal representative by name and citizen ID — the first one zhangsan's (citizen 3), the second
lisi's (citizen 4), the third a person the city has no file of; the enterprise library linked,
a business licence issued to the first firm and an application made for it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from citybase.core.identity.schemas import Principal, Role
from citybase.core.settings import Settings
from citybase.data.baselib import service as baselib
from citybase.data.baselib.schemas import Kind
from citybase.data.catalog.schemas import ResourceRead
from citybase.data.certificates import service as certificates
from citybase.data.certificates.schemas import CertificateCreate, CertificateTypeCreate
from citybase.data.datastore import service as datastore
from citybase.data.grading import service as grading
from citybase.data.grading.schemas import ScanRequest
from citybase.data.masking import operators as ops
from citybase.services.evaluation import service as evaluation
from citybase.services.onething import repository as onething_repository
from citybase.services.onething.models import Application
from tests.core.identity.factories import make_user, principal_of
from tests.data.catalog.factories import make_published
from tests.data.certificates.factories import credit_code
from tests.data.sharing.factories import NAMES, citizen_id
from tests.services.onething.factories import ACTOR, OneThingCity

LICENCE = credit_code("11100000MB0LAC") + "002"  # an enterprise's certificate type (营业执照)
MARKET_ITEMS = [
    {"name": "统一社会信用代码", "data_type": "string", "length": 18, "element": "统一社会信用代码"},
    {"name": "单位名称", "data_type": "string", "length": 200},
    {"name": "法定代表人", "data_type": "string", "length": 50, "element": "姓名"},
    {"name": "法定代表人证件号码", "data_type": "string", "length": 18,
     "element": "公民身份号码"},
    {"name": "住所", "data_type": "string", "length": 200, "element": "地址"},
]  # fmt: skip
FIRMS = [
    (credit_code("91350102MA2YTE1"), "福州榕城示范科技有限公司", NAMES[3], citizen_id(3)),
    (credit_code("91350103MA2YTE2"), "福州闽江示范贸易有限公司", NAMES[4], citizen_id(4)),
    (credit_code("91350104MA2YTE3"), "福州三坊示范物流有限公司", "郑强", citizen_id(91)),
]
APPLICATION = "YJS202612080001"


@dataclass
class FirmCity:
    city: OneThingCity
    register: ResourceRead
    ids: list[int]  # the firms' base-library files, in the order of FIRMS
    licence: str  # the identifier of the first firm's business licence


def firm_rows() -> list[dict[str, str]]:
    return [{"统一社会信用代码": c, "单位名称": n, "法定代表人": rep, "法定代表人证件号码": rid,
             "住所": f"福建省福州市鼓楼区五四路{i + 1}号"}
            for i, (c, n, rep, rid) in enumerate(FIRMS)]  # fmt: skip


def firm_city(session: Session, settings: Settings, city: OneThingCity) -> FirmCity:
    people = city.linked.shared.people
    register = make_published(session, people, name="法人单位基本信息", items=MARKET_ITEMS,
                              share_type="unconditional", base_tags=["legal_person"],
                              theme_tags=[])  # fmt: skip
    steward = people["urbansteward"]
    datastore.load_rows(session, steward, register.code, firm_rows(), "test")
    grading.scan_resource(session, steward, register.code, ScanRequest(rows=firm_rows()))
    keys = ops.keys_for(settings.masking_key)
    baselib.link_base_library(session, city.keeper, Kind.enterprise, settings.baselib, keys)
    ids = [baselib.entity_id_by_subject(session, "enterprise", ops.subject_tag(c, keys))
           for c, *_ in FIRMS]  # fmt: skip
    assert all(ids), ids
    certificates.define_certificate_type(session, ACTOR, CertificateTypeCreate.model_validate({
        "code": LICENCE, "name": "营业执照", "holder_kind": "enterprise", "issuer_kind": "测试",
        "issuer_units": ["fz.health"], "fields": [{"name": "scope", "label": "经营范围"}],
    }))  # fmt: skip
    made = certificates.issue_certificate(session, principal_of(session, "healthcert"),
                                          CertificateCreate(type_code=LICENCE,
                                                            holder_name=FIRMS[0][1],
                                                            holder_id=FIRMS[0][0],
                                                            fields={"scope": "软件开发"}),
                                          settings.masking_key)  # fmt: skip
    onething_repository.add(session, Application(
        number=APPLICATION, item_code="test.thing", user_id=0, kind="enterprise",
        subject_tag=ops.subject_tag(FIRMS[0][0], keys), state="completed", form={},
        materials={}, submitted_at=datetime.now(UTC), completed_at=datetime.now(UTC),
    ))  # fmt: skip
    evaluation.open_for_rating(session, subject_kind="application", subject_id=APPLICATION,
                               unit_code="fz.health", channel="portal", title="企业开办")  # fmt: skip
    return FirmCity(city, register, [i for i in ids if i is not None], made.identifier)


def enterprise_account(session: Session, settings: Settings) -> Principal:
    """An applicant account of the first firm itself (its agent), tied to its credit code."""
    from citybase.services.onething import service as onething
    from citybase.services.onething.schemas import ApplicantKind, ApplicantRegister

    make_user(session, "firmagent", Role.applicant)
    onething.register_applicant(session, None, ApplicantRegister(
        username="firmagent", kind=ApplicantKind.enterprise, number=FIRMS[0][0],
    ), ops.keys_for(settings.masking_key))  # fmt: skip
    return principal_of(session, "firmagent")
