"""A theme library (主题库) declared to the sandbox by its owner unit's steward and queried like
a resource, by its own code; another unit's steward cannot declare it."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.orm import Session

from citybase.core.errors import Forbidden
from citybase.core.settings import Settings
from citybase.data.baselib import service as baselib
from citybase.data.baselib import theme_builds, themes
from citybase.data.baselib.schemas import Kind, ThemeCreate
from citybase.data.catalog import service as catalog
from citybase.data.catalog.schemas import Transition
from citybase.data.masking import operators as ops
from citybase.data.sandbox import repository, service
from citybase.data.sandbox.schemas import GrantCreate, QueryCreate, QueryStatus
from tests.data.baselib.factories import LinkedCity, linked_city
from tests.data.sandbox.factories import KEYS, SETTINGS, declaration

THEME = "health-offences"


def _spec(city: LinkedCity) -> dict[str, Any]:
    return {
        "name": "居民健康与违法记录主题库", "abstract": "测试用主题库：居民健康档案关联城管违法记录。",
        "classification": "201901", "owner_unit": "fz.health", "refresh_hours": 24,
        "sources": [
            {"alias": "h", "resource": city.health.code},
            {"alias": "u", "resource": city.shared.resource.code,
             "join": {"to": "h", "entity": "person"}},
        ],
        "columns": [
            {"name": "身份证号", "source": "h.身份证号", "element": "公民身份号码"},
            {"name": "性别", "source": "u.性别", "length": 2},
            {"name": "罚款金额", "source": "u.罚款金额", "data_type": "decimal"},
        ],
    }  # fmt: skip


def _theme(session: Session, settings: Settings) -> tuple[LinkedCity, str]:
    city = linked_city(session, settings)
    keys = ops.keys_for(settings.masking_key)
    baselib.link_base_library(session, city.steward, Kind.person, settings.baselib, keys)
    root = city.shared.people["root"]
    made = themes.define_theme(session, root, ThemeCreate(code=THEME, spec=_spec(city)))
    build = theme_builds.build_theme(session, root, THEME, keys, settings.baselib)
    assert build.status == "ok", build.message
    for action in ("approve", "register", "publish"):
        catalog.transition(session, city.steward, made.resource_code, action, Transition())
    return city, made.resource_code


def test_a_theme_library_is_declared_and_queried_like_a_resource(
    session: Session, settings: Settings
) -> None:
    city, resource_code = _theme(session, settings)
    # another unit's steward cannot declare it
    with pytest.raises(Forbidden):
        service.declare_resource(session, city.shared.people["urbansteward"], THEME,
                                 declaration(identifier="身份证号"))  # fmt: skip
    assert repository.declaration(session, resource_code) is None
    # its owner unit's steward declares it by its theme code
    declared = service.declare_resource(session, city.health_steward, THEME,
                                        declaration(identifier="身份证号"))  # fmt: skip
    assert (declared.resource_code, declared.theme_library) == (resource_code, THEME)
    assert declared.provider_unit_code == "fz.health"
    service.grant_budget(session, city.health_steward, SETTINGS, GrantCreate(
        resource_code=THEME, unit_code="gl.urban", epsilon=1, purpose="统计分析",
        legal_basis="《数据安全法》第三十八条",
    ))  # fmt: skip
    asked, refused = service.ask_query(session, city.shared.stranger, QueryCreate(
        sql=f'SELECT 性别, COUNT(*), SUM(罚款金额) FROM "{THEME}" GROUP BY 性别', epsilon=0.5,
    ), KEYS)  # fmt: skip
    assert refused is None, refused
    assert asked.status is QueryStatus.answered
    assert asked.resource_code == resource_code
    assert asked.answer is not None
    assert {r["性别"] for r in asked.answer.rows} == {"男", "女"}
    assert [d.theme_library for d in service.list_declarations(session)] == [THEME]
