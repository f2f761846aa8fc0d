"""A personal-data resource of fz.urban (graded 一般数据 4 级) declared to the sandbox by its
steward, with rows of several people, and a budget granted to the health commission."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from citybase.core.identity.schemas import Principal, Role
from citybase.core.settings import ProductsSettings
from citybase.data.datastore import service as datastore
from citybase.data.grading.schemas import Level
from citybase.data.masking import operators as ops
from citybase.data.sandbox import service
from citybase.data.sandbox.schemas import DeclarationCreate, GrantCreate, GrantRead
from tests.core.identity.factories import make_user, principal_of
from tests.data.sharing.factories import SharedCity, citizen_id, shared_city

KEYS = ops.Keys.derive("33" * 32)
SETTINGS = ProductsSettings()
ID = "公民身份号码"


def declaration(**overrides: Any) -> DeclarationCreate:
    values: dict[str, Any] = {
        "identifier": ID, "max_rows_per_person": 2, "categorical": {"性别": ["男", "女"]},
        "numeric": {"罚款金额": {"lower": 0, "upper": 1000}},
    }  # fmt: skip
    values.update(overrides)
    return DeclarationCreate.model_validate(values)


def repeat_offenders(people: int, each: int) -> list[dict[str, Any]]:
    """``each`` rows of every one of ``people`` people (the same citizen ID on each)."""
    return [
        {"姓名": "张伟", "公民身份号码": citizen_id(p), "手机号码": f"1380013{p:04d}",
         "住址": "福州市鼓楼区五四路1号", "出生日期": "1980-01-01",
         "性别": "男" if p % 2 else "女", "违法事由": "占道经营", "罚款金额": 100 + p}
        for p in range(people) for _ in range(each)
    ]  # fmt: skip


@dataclass
class SandboxCity:
    city: SharedCity
    analyst: Principal  # healthuser, fz.health (data_consumer)
    stranger: Principal  # glreader, gl.urban: no grant
    steward: Principal  # urbansteward, fz.urban: the providing unit's
    other_steward: Principal  # bureausteward, fz.bigdata: another unit's steward
    grant: GrantRead | None

    @property
    def code(self) -> str:
        return self.city.resource.code


def sandbox_city(session: Session, *, epsilon: float = 2.0, rows: int = 6,
                 grant: bool = True) -> SandboxCity:  # fmt: skip
    city = shared_city(session, level=Level.general_4, rows=rows)
    steward = city.people["urbansteward"]
    if rows == 0:
        pass
    service.declare_resource(session, steward, city.resource.code, declaration())
    granted = None
    if grant:
        granted = service.grant_budget(session, steward, SETTINGS, GrantCreate(
            resource_code=city.resource.code, unit_code="fz.health", epsilon=epsilon,
            purpose="违法行为与医保参保情况的统计分析", legal_basis="《数据安全法》第三十八条",
        ))  # fmt: skip
    return SandboxCity(city, city.consumer, city.stranger, steward,
                       city.people["bureausteward"], granted)  # fmt: skip


def add_rows(session: Session, sc: SandboxCity, rows: list[dict[str, Any]]) -> None:
    datastore.load_rows(session, sc.steward, sc.code, rows, "test")


def analyst_of_health(session: Session, username: str) -> Principal:
    make_user(session, username, Role.data_consumer, unit="fz.health")
    return principal_of(session, username)
