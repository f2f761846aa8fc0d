"""The region picker: the regions under one, as the cascade asks for them, and the plain list of
names a page without script shows."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from citybase.core.identity.schemas import Role
from citybase.core.orgs import service
from citybase.core.orgs.schemas import RegionLevel
from tests.core.identity.factories import make_user, sign_in
from tests.hub.cases.factories import city


def test_the_children_of_a_region_are_served_to_anyone(
    client: TestClient, session: Session
) -> None:
    city(session)
    districts = client.get("/regions/children").json()
    assert {"code": "350102", "name": "鼓楼区", "level": "district"} in districts
    assert all(d["level"] == "district" for d in districts)
    streets = client.get("/regions/children", params={"parent": "350102"}).json()
    assert streets
    assert all(s["level"] == "street" for s in streets)
    street = streets[0]["code"]
    below = client.get("/regions/children", params={"parent": street}).json()
    assert below
    assert all(c["level"] == "community" for c in below)
    assert client.get("/regions/children", params={"parent": "999999"}).status_code == 404
    cities = client.get("/regions/children", params={"level": "city"}).json()
    assert [c["level"] for c in cities] == ["city"]  # the unit form's first list
    assert client.get("/regions/children", params={"level": "planet"}).status_code == 422


def test_the_picker_lists_names_and_the_path_to_the_choice(
    client: TestClient, session: Session
) -> None:
    city(session)
    community = next(r for r in service.list_regions(session, level=RegionLevel.community))
    picker = service.region_picker(session, community.code)
    assert len(picker.path) == 3
    assert picker.path[-1] == community.code
    assert picker.path[0] == service.region_path(session, community.code)[1].code  # the district
    assert [o.level for o, depth in picker.options if depth == 0] == [RegionLevel.district] * len(
        service.list_regions(session, level=RegionLevel.district))  # fmt: skip
    page = client.get("/hotline").text
    box = re.search(r'<span class="cascade" data-cascade="/regions/children\?level=district"[^>]*>(.*?)</span>',
                    page, re.S)  # fmt: skip
    assert box, "the portal has no region picker"
    assert '<option value="350102">鼓楼区</option>' in box[1]  # names, not codes
    assert '<script src="/static/core/pickers.js" defer></script>' in page
    assert client.get("/static/core/pickers.js").status_code == 200


def test_the_unit_form_picks_its_region_from_the_city_down(
    client: TestClient, session: Session
) -> None:
    city(session)
    make_user(session, "admin", Role.platform_admin)
    sign_in(client, "admin")
    page = client.get("/console/units/gl.urban").text
    box = re.search(r'data-cascade="/regions/children\?level=city"[^>]*>(.*?)</span>', page, re.S)
    assert box, "the unit form has no region picker"
    assert re.search(r'<option value="350100">福州市</option>', box[1])
    assert '<option value="350102" selected>　鼓楼区</option>' in box[1]  # its own, by name
