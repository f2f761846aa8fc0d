from __future__ import annotations

import json
from typing import Any

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


def box(west: float, south: float, east: float, north: float) -> dict[str, Any]:
    ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
    return {"type": "Polygon", "coordinates": [ring]}


def feature(code: str, geometry: dict[str, Any], key: str = "code") -> dict[str, Any]:
    return {"type": "Feature", "properties": {key: code}, "geometry": geometry}


def collection(*features: dict[str, Any]) -> bytes:
    return json.dumps({"type": "FeatureCollection", "features": list(features)}).encode()


# 鼓楼区 west of 119.31, 台江区 east of it; 鼓东街道 a square inside 鼓楼区
CITY = [
    feature("350100", box(119.20, 26.00, 119.40, 26.20)),
    feature("350102", box(119.20, 26.00, 119.31, 26.20)),
    feature("350103", box(119.31, 26.00, 119.40, 26.20)),
    feature("350102001", box(119.28, 26.07, 119.30, 26.09)),
]
