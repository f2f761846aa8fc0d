"""The lists that filter by place pick the region as a cascade (the cases and devices from the
district down, the resource catalog from the city down) and take a region of any level: what
lies in it or below it is shown, nothing else."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from citybase.core.identity.schemas import Role
from citybase.core.ledger.schemas import Actor
from citybase.core.orgs import service as orgs
from citybase.core.orgs.schemas import RegionLevel
from citybase.hub.cases import service as cases
from citybase.perception.devices import service as devices
from citybase.perception.devices.schemas import DeviceIn
from tests.core.identity.factories import make_user, principal_of, sign_in
from tests.data.catalog.factories import catalog_people, make_published
from tests.hub.cases.factories import ROAD, city, mover
from tests.perception.devices.test_telemetry import GAUGE

SYSTEM = Actor.system("test")


def _box(page: str, level: str) -> str:
    found = re.search(rf'data-cascade="/regions/children\?level={level}"([^>]*)>(.*?)</span>',
                      page, re.S)  # fmt: skip
    assert found, f"no region cascade from the {level} down"
    return found[1] + found[2]


def _streets(session: Session) -> list[str]:
    """Two streets of different districts."""
    first = orgs.list_regions(session, parent_code="350102")[0].code
    second = orgs.list_regions(session, parent_code="350103")[0].code
    assert orgs.region_path(session, first)[-1].level is RegionLevel.street
    return [first, second]


def test_the_cases_list_filters_by_a_street_picked_in_the_cascade(
    client: TestClient, session: Session
) -> None:
    city(session)
    here, there = _streets(session)
    numbers = [
        cases.intake(session, mover(session, "operator"),
                     ROAD.model_copy(update={"region_code": street})).case.number
        for street in (here, there)
    ]  # fmt: skip
    sign_in(client, "super")
    page = client.get("/console/hub/cases", params={"region": here}).text
    box = _box(page, "district")
    assert f'data-path="350102 {here}"' in box  # the cascade opens on the choice
    assert numbers[0] in page
    assert numbers[1] not in page
    district = client.get("/console/hub/cases", params={"region": "350103"}).text
    assert numbers[1] in district
    assert numbers[0] not in district
    assert "/api/v1/hub/cases.xlsx?within=350103" in district  # the export takes the filter
    assert '<script src="/static/core/pickers.js" defer></script>' in page


def test_the_devices_list_filters_by_region(client: TestClient, session: Session) -> None:
    city(session)
    here, there = _streets(session)
    devices.put_type(session, SYSTEM, GAUGE)
    for n, street in enumerate((here, there)):
        devices.put_device(session, None, SYSTEM, DeviceIn(
            device_id=f"wl-{n}", name=f"水位计{n}", type_code="water_gauge", owner_unit="fz.water",
            lon=119.3, lat=26.08, region_code=street))  # fmt: skip
    make_user(session, "watcher", Role.platform_admin)
    sign_in(client, "watcher")
    page = client.get("/console/perception/devices", params={"region": "350102"}).text
    _box(page, "district")
    assert "水位计0" in page
    assert "水位计1" not in page
    everything = client.get("/console/perception/devices").text
    assert "水位计0" in everything
    assert "水位计1" in everything


def test_the_catalog_list_picks_its_region_from_the_city_down(
    client: TestClient, session: Session
) -> None:
    people = catalog_people(session)
    make_user(session, "glsteward", Role.data_steward, unit="gl.urban")
    district = people | {"urbansteward": principal_of(session, "glsteward")}
    make_published(session, district, name="鼓楼区井盖信息", provider_unit_code="gl.urban")
    make_published(session, people, name="全市井盖信息")  # the city's
    sign_in(client, "root")
    page = client.get("/console/catalog", params={"region": "350102"}).text
    box = _box(page, "city")
    assert 'data-path="350100 350102"' in box
    assert '<option value="350102" selected>　鼓楼区</option>' in box  # by name
    assert "鼓楼区井盖信息" in page
    assert "全市井盖信息" not in page
    whole = client.get("/console/catalog", params={"region": "350100"}).text
    assert "鼓楼区井盖信息" in whole  # a region takes the ones below it
    assert "全市井盖信息" in whole
