"""The demo city's e-certificates (电子证照): five issuing units given credit codes and a
certificate manager each, six certificate types, and certificates issued to residents and firms
the base libraries know (so that their files link), one of them revoked and one unit's key
rotated. Type codes and units' credit codes are made up for the demo (their check characters
pass GB 32100; no real department's)."""

from __future__ import annotations

import random
from typing import Any

from sqlalchemy.orm import Session

from citybase.core.codes import citizen_id_check_char, credit_code_check_char
from citybase.core.identity import service as identity
from citybase.core.identity.schemas import Role, UserCreate
from citybase.core.ledger.schemas import Actor
from citybase.core.orgs import service as orgs
from citybase.core.orgs.schemas import UnitUpdate
from citybase.core.settings import Settings
from citybase.data.certificates import service as certificates
from citybase.data.certificates.schemas import CertificateCreate, CertificateTypeCreate, Revocation
from citybase.demo.resources import firms, residents

DEMO_ACTOR = Actor.system("demo")
DEMO_PASSWORD = "citybase-demo"  # noqa: S105 -- the demo city's, printed on purpose


def _credit(body: str) -> str:
    first17 = (body + "0" * 17)[:17]
    return first17 + credit_code_check_char(first17)


# issuing unit → (its credit code, its certificate manager's username and name)
ISSUERS = {
    "fz.health": (_credit("11350100MB0W0001"), "healthcert", "市卫健委证照管理员 郑敏"),
    "fz.market": (_credit("11350100MB0M0002"), "certmanager", "市场监管局证照管理员 周婷"),
    "fz.police": (_credit("11350100MB0G0003"), "policecert", "市公安局证照管理员 许杰"),
    "fz.civil": (_credit("11350100MB0C0004"), "civilcert", "市民政局证照管理员 高洁"),
    "fz.hrss": (_credit("11350100MB0R0005"), "hrsscert", "市人社局证照管理员 罗斌"),
}
# the defining ministries' codes (made up) and the number each gives its type
BIRTH = _credit("11100000MB0NHC") + "001"
LICENCE = _credit("11100000MB0XAM") + "001"
FOOD = _credit("11100000MB0XAM") + "002"
RESIDENCE = _credit("11100000MB0MPB") + "001"
MARRIAGE = _credit("11100000MB0MCA") + "001"
RETIREMENT = _credit("11100000MB0HRB") + "001"


def _field(name: str, label: str, kind: str = "text", **more: Any) -> dict[str, Any]:
    return {"name": name, "label": label, "kind": kind, **more}


TYPES: list[dict[str, Any]] = [
    {"code": BIRTH, "name": "出生医学证明", "holder_kind": "person",
     "issuer_kind": "卫生健康行政部门（助产机构）", "issuer_units": ["fz.health"],
     "fields": [_field("sex", "性别", "choice", choices=["男", "女"]),
                _field("birth_date", "出生日期", "date"), _field("birth_place", "出生地点"),
                _field("mother", "母亲姓名"), _field("father", "父亲姓名", required=False),
                _field("weight_g", "出生体重（克）", "number", required=False)],
     "description": "新生儿出生的法定医学证明，办理户口登记（出生一件事）时使用。"},
    {"code": LICENCE, "name": "营业执照", "holder_kind": "enterprise",
     "issuer_kind": "市场监督管理部门", "issuer_units": ["fz.market"],
     "fields": [_field("legal_person", "法定代表人"),
                _field("entity_type", "类型", "choice",
                       choices=["有限责任公司", "股份有限公司", "个人独资企业", "合伙企业"]),
                _field("capital", "注册资本（万元）", "number"),
                _field("established", "成立日期", "date"), _field("address", "住所"),
                _field("scope", "经营范围")],
     "description": "市场主体登记的证明，长期有效。"},
    {"code": FOOD, "name": "食品经营许可证", "holder_kind": "enterprise",
     "issuer_kind": "市场监督管理部门", "issuer_units": ["fz.market"], "validity_years": 5,
     "fields": [_field("operator_kind", "主体业态", "choice",
                       choices=["食品销售经营者", "餐饮服务经营者", "单位食堂"]),
                _field("items", "经营项目"), _field("address", "经营场所")],
     "description": "从事食品销售和餐饮服务的许可，有效期五年。"},
    {"code": RESIDENCE, "name": "居住证", "holder_kind": "person",
     "issuer_kind": "公安机关", "issuer_units": ["fz.police"], "validity_years": 1,
     "fields": [_field("address", "居住地址"), _field("domicile", "户籍地")],
     "description": "在居住地享受基本公共服务的凭证，逐年签注。"},
    {"code": MARRIAGE, "name": "结婚证", "holder_kind": "person",
     "issuer_kind": "民政部门（婚姻登记机关）", "issuer_units": ["fz.civil"],
     "fields": [_field("spouse", "配偶姓名"), _field("registered", "登记日期", "date")],
     "description": "婚姻登记的证明。"},
    {"code": RETIREMENT, "name": "退休证", "holder_kind": "person",
     "issuer_kind": "人力资源和社会保障部门", "issuer_units": ["fz.hrss"],
     "fields": [_field("employer", "原工作单位"), _field("retired", "退休日期", "date"),
                _field("kind", "类别", "choice", choices=["退休", "退职"])],
     "description": "办理养老待遇、优待时使用。"},
]  # fmt: skip


def _newborn(rng: random.Random) -> str:
    first17 = (
        f"350102{2026}{rng.randint(1, 11):02d}{rng.randint(1, 28):02d}{rng.randint(0, 999):03d}"
    )
    return first17 + citizen_id_check_char(first17)


def seed_certificates(session: Session, settings: Settings) -> None:
    key = settings.masking_key
    for unit, (credit, username, name) in ISSUERS.items():
        orgs.update_unit(session, DEMO_ACTOR, unit, UnitUpdate(credit_code=credit))
        if username != "certmanager":  # made with the demo's users
            identity.create_user(session, None, UserCreate(
                username=username, display_name=name, password=DEMO_PASSWORD, unit_code=unit,
                roles=[Role.certificate_manager]), actor=DEMO_ACTOR)  # fmt: skip
    for kind in TYPES:
        certificates.define_certificate_type(session, DEMO_ACTOR,
                                             CertificateTypeCreate.model_validate(kind))  # fmt: skip
    manager = {unit: identity.principal_for(session, username)
               for unit, (_, username, _) in ISSUERS.items()}  # fmt: skip
    rng = random.Random(3503)
    people, companies = residents(), firms()

    def issue(unit: str, type_code: str, holder: str, holder_id: str, **fields: Any) -> str:
        made = certificates.issue_certificate(session, manager[unit], CertificateCreate(
            type_code=type_code, holder_name=holder, holder_id=holder_id, fields=fields,
            reason="演示数据"), key)  # fmt: skip
        return made.identifier

    for n in range(3):
        mother, father = people[2 * n], people[2 * n + 1]
        issue("fz.health", BIRTH, f"{father.name[0]}小{'雨晨安'[n]}", _newborn(rng),
              sex=rng.choice(["男", "女"]), birth_date=f"2026-{n + 9:02d}-1{n}",
              birth_place="福建省福州市鼓楼区福建省妇幼保健院", mother=mother.name,
              father=father.name, weight_g=str(rng.randint(2800, 3900)))  # fmt: skip
    for firm in companies[:6]:
        issue("fz.market", LICENCE, firm["company"], firm["credit"],
              legal_person=firm["person"], entity_type="有限责任公司",
              capital=str(rng.choice([50, 100, 500, 1000])),
              established=f"20{rng.randint(10, 24)}-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}",
              address=firm["address"], scope="软件开发；信息技术咨询服务；数据处理服务")  # fmt: skip
    food = [issue("fz.market", FOOD, firm["company"], firm["credit"],
                  operator_kind="餐饮服务经营者", items="热食类食品制售", address=firm["address"])
            for firm in companies[6:9]]  # fmt: skip
    certificates.revoke_certificate(session, manager["fz.market"], food[-1],
                                    Revocation(reason="经营者申请注销（演示）"))  # fmt: skip
    certificates.rotate_unit_key(session, manager["fz.market"], key)  # old licences still verify
    issue("fz.market", FOOD, companies[9]["company"], companies[9]["credit"],
          operator_kind="食品销售经营者", items="预包装食品销售", address=companies[9]["address"])  # fmt: skip
    for who in people[10:14]:
        issue("fz.police", RESIDENCE, who.name, who.id, address=who.address,
              domicile="江西省南昌市")  # fmt: skip
    for a, b in ((people[20], people[21]), (people[22], people[23])):
        for holder, spouse in ((a, b), (b, a)):
            issue("fz.civil", MARRIAGE, holder.name, holder.id, spouse=spouse.name,
                  registered="2025-05-20")  # fmt: skip
    for who in people[30:33]:
        issue("fz.hrss", RETIREMENT, who.name, who.id, employer="福州市第一中学",
              retired="2024-07-01", kind="退休")  # fmt: skip
