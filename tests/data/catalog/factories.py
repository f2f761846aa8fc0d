from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from citybase.core.identity.schemas import Principal, Role
from citybase.data.catalog import service
from citybase.data.catalog.schemas import ResourceCreate, ResourceRead, Transition
from tests.core.identity.factories import make_user, principal_of
from tests.core.orgs.factories import make_small_city


def resource_data(**overrides: Any) -> ResourceCreate:
    data: dict[str, Any] = {
        "classification": "301001",
        "provider_unit_code": "fz.urban",
        "name": "城市道路井盖信息",
        "abstract": "全市道路井盖的位置、权属单位与巡查状态。",
        "format": "database",
        "share_type": "unconditional",
        "share_method": "接口",
        "open_type": "none",
        "update_cycle": "daily",
        "keywords": ["井盖", "市政设施"],
        "theme_tags": ["城乡建设"],
        "base_tags": ["geo"],
        "items": [
            {"name": "井盖编号", "data_type": "string", "length": 32},
            {"name": "权属单位", "data_type": "string", "length": 100},
            {"name": "巡查日期", "data_type": "date", "element": "日期"},
        ],
    }
    data.update(overrides)
    return ResourceCreate.model_validate(data)


def catalog_people(session: Session) -> dict[str, Principal]:
    """A small city with a steward in the providing unit and one in the big-data bureau."""
    make_small_city(session)
    make_user(session, "urbansteward", Role.data_steward, unit="fz.urban")
    make_user(session, "bureausteward", Role.data_steward, unit="fz.bigdata")
    make_user(session, "reader", Role.viewer, unit="fz.bigdata")
    make_user(session, "root", Role.platform_admin)
    return {
        name: principal_of(session, name)
        for name in ("urbansteward", "bureausteward", "reader", "root")
    }


def make_resource(session: Session, principal: Principal, **overrides: Any) -> ResourceRead:
    return service.create_resource(session, principal, resource_data(**overrides))


def make_published(
    session: Session, people: dict[str, Principal], *, until: str = "publish", **overrides: Any
) -> ResourceRead:
    """A resource of fz.urban taken through the workflow up to ``until`` (by the bureau)."""
    resource = make_resource(session, people["urbansteward"], **overrides)
    service.transition(session, people["urbansteward"], resource.code, "submit", Transition())
    for action in ("approve", "register", "publish") if until != "submit" else ():
        service.transition(session, people["bureausteward"], resource.code, action, Transition())
        if action == until:
            break
    return service.get_resource(session, resource.code)
