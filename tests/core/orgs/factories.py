from __future__ import annotations

from sqlalchemy.orm import Session

from citybase.core.ledger.schemas import Actor
from citybase.core.orgs import service
from citybase.core.orgs.schemas import (
    RegionCreate,
    RegionLevel,
    RegionRead,
    UnitCreate,
    UnitRead,
)

TEST_ACTOR = Actor(name="test", unit="")


def make_city(session: Session, code: str = "350100", name: str = "福州市") -> RegionRead:
    return service.create_region(
        session, TEST_ACTOR, RegionCreate(code=code, name=name, level=RegionLevel.city)
    )


def make_region(
    session: Session, code: str, name: str, level: RegionLevel, parent: str, official: bool = True
) -> RegionRead:
    return service.create_region(
        session,
        TEST_ACTOR,
        RegionCreate(code=code, name=name, level=level, parent_code=parent, official=official),
    )


def make_unit(
    session: Session,
    code: str,
    name: str | None = None,
    region: str = "350100",
    counterpart: str | None = None,
) -> UnitRead:
    return service.create_unit(
        session,
        TEST_ACTOR,
        UnitCreate(
            code=code, name=name or f"unit {code}", region_code=region, counterpart_code=counterpart
        ),
    )


def make_small_city(session: Session) -> None:
    """Fuzhou with two districts, a street, and three units (one district counterpart)."""
    make_city(session)
    make_region(session, "350102", "鼓楼区", RegionLevel.district, "350100")
    make_region(session, "350103", "台江区", RegionLevel.district, "350100")
    make_region(session, "350102001", "鼓东街道", RegionLevel.street, "350102")
    make_unit(session, "fz.bigdata", "福州市大数据发展管理委员会")
    make_unit(session, "fz.urban", "福州市城市管理委员会")
    make_unit(session, "gl.urban", "鼓楼区城市管理局", region="350102", counterpart="fz.urban")
