"""A personal-data resource of fz.urban (graded 一般数据 2 级, so that birth dates and streets
reach the release as stored) with sixty people on three streets, two stewards of fz.urban, a
consumer of the health commission and one of a third unit."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from citybase.core.identity.schemas import Principal, Role
from citybase.core.orgs.schemas import RegionLevel
from citybase.core.settings import ProductsSettings
from citybase.data.catalog.schemas import ResourceRead
from citybase.data.datastore import service as datastore
from citybase.data.grading import service as grading
from citybase.data.grading.schemas import Decision as GradingDecision
from citybase.data.grading.schemas import Level, ScanRequest
from citybase.data.masking import operators as ops
from citybase.data.sandbox.release_schemas import ReleaseCreate
from tests.core.identity.factories import make_user, principal_of
from tests.core.orgs.factories import make_region, make_unit
from tests.data.catalog.factories import catalog_people, make_published
from tests.data.sharing.factories import citizen_id

KEYS = ops.Keys.derive("44" * 32)
SETTINGS = ProductsSettings(bureau_unit="fz.bigdata")
ITEMS = [
    {"name": "姓名", "data_type": "string", "length": 50, "element": "姓名"},
    {"name": "公民身份号码", "data_type": "string", "length": 18, "element": "公民身份号码"},
    {"name": "手机号码", "data_type": "string", "length": 11, "element": "手机号码"},
    {"name": "出生日期", "data_type": "date"},
    {"name": "性别", "data_type": "string", "length": 2},
    {"name": "所在街道", "data_type": "string", "length": 12},
    {"name": "违法类型", "data_type": "string", "length": 20},
    {"name": "罚款金额", "data_type": "decimal"},
]
STREETS = ["350102001", "350102002", "350103001"]
KINDS = ["占道经营", "乱搭乱建", "违规停车", "乱扔垃圾"]
NAMES = ["张伟", "王芳", "李娜", "刘洋", "陈静", "杨磊"]


def people_rows(count: int = 60) -> list[dict[str, Any]]:
    return [
        {"姓名": NAMES[i % 6], "公民身份号码": citizen_id(i), "手机号码": f"1390013{i:04d}",
         "出生日期": f"{1960 + i % 30}-{1 + i % 12:02d}-{1 + i % 28:02d}",
         "性别": "男" if i % 2 else "女", "所在街道": STREETS[i % 3], "违法类型": KINDS[i % 4],
         "罚款金额": 100 + i}
        for i in range(count)
    ]  # fmt: skip


def release(code: str, **overrides: Any) -> ReleaseCreate:
    values: dict[str, Any] = {
        "resource_code": code, "title": "城市管理违法行为去标识化数据",
        "purpose": "违法行为时空分布研究", "legal_basis": "《数据安全法》第三十八条",
        "quasi_identifiers": {
            "出生日期": {"kind": "date", "levels": ["month", "year"]},
            "性别": {"kind": "value"},
            "所在街道": {"kind": "region", "levels": ["district", "city"]},
        },
        "sensitive": "违法类型", "k": 5, "l": 2, "max_suppression": 0.1,
        "identifiers": {"公民身份号码": "pseudonym"}, "keep": ["罚款金额"],
        "recipients": ["fz.health"],
    }  # fmt: skip
    values.update(overrides)
    return ReleaseCreate.model_validate(values)


@dataclass
class ReleaseCity:
    people: dict[str, Principal]
    resource: ResourceRead
    steward: Principal  # urbansteward, fz.urban: prepares
    second: Principal  # urbansteward2, fz.urban: reviews
    bureau: Principal  # bureausteward, fz.bigdata
    consumer: Principal  # healthuser, fz.health: a recipient
    stranger: Principal  # glreader, gl.urban: no recipient
    other_steward: Principal  # glsteward, gl.urban: another unit's steward

    @property
    def code(self) -> str:
        return self.resource.code


def release_city(session: Session, rows: int = 60) -> ReleaseCity:
    people = catalog_people(session)
    make_region(session, "350102002", "鼓西街道", RegionLevel.street, "350102")
    make_region(session, "350103001", "茶亭街道", RegionLevel.street, "350103")
    make_unit(session, "fz.health", "福州市卫生健康委员会")
    make_user(session, "urbansteward2", Role.data_steward, unit="fz.urban")
    make_user(session, "healthuser", Role.data_consumer, unit="fz.health")
    make_user(session, "glreader", Role.data_consumer, unit="gl.urban")
    make_user(session, "glsteward", Role.data_steward, unit="gl.urban")
    resource = make_published(
        session, people, name="城市管理违法行为记录", items=ITEMS, share_type="conditional",
        share_condition="履职需要", base_tags=[], theme_tags=["城乡建设"],
    )  # fmt: skip
    steward = people["urbansteward"]
    datastore.load_rows(session, steward, resource.code, people_rows(rows), "test")
    grading.scan_resource(session, steward, resource.code, ScanRequest(rows=people_rows(rows)))
    grading.decide(session, steward, resource.code,
                   GradingDecision(level=Level.general_2, reason="测试"))  # fmt: skip
    return ReleaseCity(
        people, resource, steward, principal_of(session, "urbansteward2"),
        people["bureausteward"], principal_of(session, "healthuser"),
        principal_of(session, "glreader"), principal_of(session, "glsteward"),
    )  # fmt: skip
