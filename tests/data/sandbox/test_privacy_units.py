"""The base library's person id as the privacy unit: where a declared resource's rows are linked
to person files (一人一档), one person under two identifiers is bounded once."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from citybase.core.settings import Settings
from citybase.data.baselib import service as baselib
from citybase.data.baselib.linkage import Kind
from citybase.data.datastore import service as datastore
from citybase.data.grading.schemas import Level
from citybase.data.masking import operators as ops
from citybase.data.sandbox import privacy_units, repository, service
from citybase.data.sandbox.schemas import GrantCreate, QueryCreate
from tests.data.sandbox.factories import KEYS, SETTINGS, declaration
from tests.data.sharing.factories import NAMES, SharedCity, citizen_id, shared_city

PEOPLE = 30
PHONE = "手机号码"


def two_phones(people: int = PEOPLE) -> list[dict[str, Any]]:
    """Each person twice, under the same citizen ID but two mobile numbers."""
    return [
        {"姓名": NAMES[p % len(NAMES)], "公民身份号码": citizen_id(p), "手机号码": f"{prefix}{p:04d}",
         "住址": f"福州市鼓楼区五四路{p + 1}号", "出生日期": f"{1960 + p % 40}-{1 + p % 12:02d}-"
         f"{1 + p % 28:02d}", "性别": "男" if p % 2 else "女", "违法事由": "占道经营",
         "罚款金额": 100}
        for p in range(people) for prefix in ("1380013", "1390013")
    ]  # fmt: skip


def _city(session: Session, settings: Settings, *, link: bool = True,
          unit: str = "person") -> SharedCity:  # fmt: skip
    city = shared_city(session, level=Level.general_4, rows=0)
    steward = city.people["urbansteward"]
    datastore.load_rows(session, steward, city.resource.code, two_phones(), "test")
    service.declare_resource(session, steward, city.resource.code, declaration(
        identifier=PHONE, max_rows_per_person=1, privacy_unit=unit))  # fmt: skip
    service.grant_budget(session, steward, SETTINGS, GrantCreate(
        resource_code=city.resource.code, unit_code="fz.health", epsilon=50,
        purpose="违法行为统计分析", legal_basis="《数据安全法》第三十八条",
    ))  # fmt: skip
    if link:
        settings.baselib.steward_unit = "fz.bigdata"
        baselib.link_base_library(session, city.people["bureausteward"], Kind.person,
                                  settings.baselib, ops.keys_for(settings.masking_key))  # fmt: skip
    return city


def _count(session: Session, city: SharedCity) -> float:
    asked, refused = service.ask_query(session, city.consumer, QueryCreate(
        sql=f'SELECT COUNT(*) FROM "{city.resource.code}"', epsilon=10), KEYS)  # fmt: skip
    assert refused is None, refused
    assert asked.answer is not None
    return float(asked.answer.rows[0]["COUNT(*)"])


def test_two_identifiers_of_one_linked_person_are_one_privacy_unit(
    session: Session, settings: Settings
) -> None:
    city = _city(session, settings)
    declared = repository.declaration(session, city.resource.code)
    assert declared is not None
    assert declared.privacy_unit == "person"
    units = privacy_units.person_units(session, declared, KEYS)
    assert len(units) == 2 * PEOPLE  # every masked phone number is linked
    assert len(set(units.values())) == PEOPLE  # to one unit per person
    # at ε = 10 with one row per person the count's noise is about ±0.3: 30 people, not 60 rows
    assert abs(_count(session, city) - PEOPLE) < 5


def test_the_identifier_column_alone_counts_each_number_apart(
    session: Session, settings: Settings
) -> None:
    city = _city(session, settings, unit="identifier")
    assert abs(_count(session, city) - 2 * PEOPLE) < 5


def test_rows_not_linked_count_by_their_identifier(session: Session, settings: Settings) -> None:
    city = _city(session, settings, link=False)
    declared = repository.declaration(session, city.resource.code)
    assert declared is not None
    assert privacy_units.person_units(session, declared, KEYS) == {}
    assert abs(_count(session, city) - 2 * PEOPLE) < 5
