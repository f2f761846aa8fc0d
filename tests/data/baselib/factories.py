"""Two units holding rows about the same people: fz.urban's offence register (from the sharing
factories) and fz.health's resident health records, with the differences real sources have — an
old 15-digit ID, a name typed by its sound, a moved phone number — and fz.health registered as
the authoritative source of mobile numbers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from citybase.core.identity.schemas import Principal, Role
from citybase.core.settings import Settings
from citybase.data.catalog import service as catalog
from citybase.data.catalog.schemas import ResourceRead, Transition
from citybase.data.datastore import service as datastore
from citybase.data.sources import service as sources
from citybase.data.sources.schemas import SourceCreate
from tests.core.identity.factories import make_user, principal_of
from tests.data.catalog.factories import resource_data
from tests.data.sharing.factories import SharedCity, citizen_id, person_rows, shared_city

HEALTH_ITEMS = [
    {"name": "姓名", "data_type": "string", "length": 50, "element": "姓名"},
    {"name": "身份证号", "data_type": "string", "length": 18, "element": "公民身份号码"},
    {"name": "联系电话", "data_type": "string", "length": 11, "element": "手机号码"},
    {"name": "居住地址", "data_type": "string", "length": 200, "element": "地址"},
]


def health_rows() -> list[dict[str, Any]]:
    urban = person_rows(6)
    rows = []
    for i, row in enumerate(urban[:5]):
        rows.append({"姓名": row["姓名"], "身份证号": row["公民身份号码"],
                     "联系电话": row["手机号码"], "居住地址": f"鼓楼区鼓东街道五四路{i + 1}号"})  # fmt: skip
    old = citizen_id(0)
    rows[0]["身份证号"] = old[:6] + old[8:17]  # the 15-digit number of before 1999
    rows[1]["姓名"] = "王方"  # 王芳 typed by its sound
    rows[1]["身份证号"] = ""  # and no ID
    rows[2]["联系电话"] = "13900000002"  # a newer number at the authoritative unit
    rows.append({"姓名": "赵敏", "身份证号": citizen_id(77), "联系电话": "13700000077",
                 "居住地址": "台江区工业路9号"})  # fmt: skip
    return rows


@dataclass
class LinkedCity:
    shared: SharedCity
    health: ResourceRead
    steward: Principal  # the bureau's data steward, who runs the base libraries
    health_steward: Principal


def linked_city(session: Session, settings: Settings) -> LinkedCity:
    city = shared_city(session)
    make_user(session, "healthsteward", Role.data_steward, unit="fz.health")
    health_steward = principal_of(session, "healthsteward")
    bureau = city.people["bureausteward"]
    resource = catalog.create_resource(session, health_steward, resource_data(
        name="居民健康档案基本信息", provider_unit_code="fz.health", items=HEALTH_ITEMS,
        share_type="unconditional",
    ))  # fmt: skip
    catalog.transition(session, health_steward, resource.code, "submit", Transition())
    for action in ("approve", "register", "publish"):
        catalog.transition(session, bureau, resource.code, action, Transition())
    datastore.load_rows(session, health_steward, resource.code, health_rows(), "test")
    sources.register_source(session, city.people["root"], SourceCreate(
        data_kind="居民联系方式", unit_code="fz.health", elements=["手机号码"],
        legal_basis="测试",
    ))  # fmt: skip
    settings.baselib.steward_unit = "fz.bigdata"
    return LinkedCity(city, catalog.get_resource(session, resource.code), bureau, health_steward)
