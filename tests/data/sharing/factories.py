"""A personal-data resource of fz.urban with rows, graded, and a health-commission consumer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from citybase.core.codes import citizen_id_check_char
from citybase.core.identity.schemas import Principal, Role
from citybase.data.catalog.schemas import ResourceRead
from citybase.data.datastore import service as datastore
from citybase.data.grading import service as grading
from citybase.data.grading.schemas import Decision as GradingDecision
from citybase.data.grading.schemas import Level, ScanRequest
from citybase.data.sharing import service
from citybase.data.sharing.schemas import Decision, RequestCreate
from tests.core.identity.factories import make_user, principal_of
from tests.core.orgs.factories import make_unit
from tests.data.catalog.factories import catalog_people, make_published

ITEMS = [
    {"name": "姓名", "data_type": "string", "length": 50, "element": "姓名"},
    {"name": "公民身份号码", "data_type": "string", "length": 18, "element": "公民身份号码"},
    {"name": "手机号码", "data_type": "string", "length": 11, "element": "手机号码"},
    {"name": "住址", "data_type": "string", "length": 200},
    {"name": "出生日期", "data_type": "date"},
    {"name": "性别", "data_type": "string", "length": 2},
    {"name": "违法事由", "data_type": "string", "length": 500},
    {"name": "罚款金额", "data_type": "decimal"},
]
NAMES = ["张伟", "王芳", "李娜", "刘洋", "陈静", "杨磊"]


def citizen_id(n: int) -> str:
    first = f"350102{1960 + n % 40}{1 + n % 12:02d}{1 + n % 28:02d}{n % 1000:03d}"
    return first + citizen_id_check_char(first)


def person_rows(count: int = 6) -> list[dict[str, Any]]:
    return [
        {
            "姓名": NAMES[i % len(NAMES)], "公民身份号码": citizen_id(i),
            "手机号码": f"1380013{i:04d}", "住址": f"福州市鼓楼区五四路{i + 1}号",
            "出生日期": f"{1960 + i % 40}-{1 + i % 12:02d}-{1 + i % 28:02d}",
            "性别": "男" if i % 2 else "女",
            "违法事由": f"当事人{NAMES[i % len(NAMES)]}在鼓楼区东街占道经营，电话1380013{i:04d}",
            "罚款金额": 200 + i,
        }
        for i in range(count)
    ]  # fmt: skip


@dataclass
class SharedCity:
    people: dict[str, Principal]
    resource: ResourceRead
    consumer: Principal
    stranger: Principal  # a third unit's consumer, with no grant


def shared_city(
    session: Session, *, share_type: str = "unconditional", level: Level | None = None,
    rows: int = 6,
) -> SharedCity:  # fmt: skip
    people = catalog_people(session)
    make_unit(session, "fz.health", "福州市卫生健康委员会")
    make_user(session, "healthuser", Role.data_consumer, unit="fz.health")
    make_user(session, "glreader", Role.data_consumer, unit="gl.urban")
    resource = make_published(
        session, people, name="城市管理违法当事人信息", items=ITEMS, share_type=share_type,
        share_condition="履职需要" if share_type == "conditional" else "",
        base_tags=[], theme_tags=["城乡建设"],
    )  # fmt: skip
    steward = people["urbansteward"]
    datastore.load_rows(session, steward, resource.code, person_rows(rows), "test")
    grading.scan_resource(session, steward, resource.code, ScanRequest(rows=person_rows(rows)))
    if level is not None:
        grading.decide(session, steward, resource.code, GradingDecision(level=level, reason="测试"))
    return SharedCity(
        people, resource, principal_of(session, "healthuser"), principal_of(session, "glreader")
    )


def grant_to(
    session: Session, city: SharedCity, fields: list[str], *, days: int = 30,
    keys: list[int] | None = None, who: Principal | None = None,
) -> str:  # fmt: skip
    request = service.request_share(
        session, who or city.consumer,
        RequestCreate(
            resource_code=city.resource.code, purpose="核查医保参保人违法记录",
            legal_basis="《社会保险法》第八十七条", fields=fields, days=days,
            api_key_ids=keys or [],
        ),
    )  # fmt: skip
    if request.status.value == "pending":
        service.decide(session, city.people["urbansteward"], request.number, Decision(approve=True))
    return request.number
