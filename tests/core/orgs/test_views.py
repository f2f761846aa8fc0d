from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from citybase.core.identity.schemas import Role
from citybase.core.orgs import service
from tests.core.identity.factories import make_user, sign_in
from tests.core.orgs.factories import CITY, box, collection, feature, make_small_city


def test_region_tree_page_lists_the_city(client: TestClient, session: Session) -> None:
    make_small_city(session)
    make_user(session, "viewer", Role.viewer)
    sign_in(client, "viewer")
    page = client.get("/console/regions")
    assert page.status_code == 200
    assert "鼓东街道" in page.text
    assert "350102001" in page.text
    # a viewer sees no edit form on a region
    assert 'name="sort_order"' not in client.get("/console/regions/350102").text


def test_admin_creates_a_unit_through_the_form(
    client: TestClient, session: Session, form_token
) -> None:  # type: ignore[no-untyped-def]
    make_small_city(session)
    make_user(session, "admin", Role.platform_admin)
    csrf = sign_in(client, "admin")
    form = {"csrf_token": csrf, "code": "tj.urban", "name": "台江区城管局", "kind": "department",
            "region_code": "350103", "counterpart_code": "fz.urban", "credit_code": "",
            "short_name": ""}  # fmt: skip
    response = client.post("/console/units/new", data=form | {"form_token": form_token()},
                           follow_redirects=False)  # fmt: skip
    assert response.status_code == 303
    assert service.get_unit(session, "tj.urban").counterpart_code == "fz.urban"
    again = client.post("/console/units/new", data=form | {"form_token": form_token()})
    assert again.status_code == 422
    assert "单位 tj.urban 已存在" in again.text

    # the list finds it by name, by its district (a cascade) and by whether it is active
    listed = client.get("/console/units", params={"q": "台江"}).text
    assert "台江区城管局" in listed
    assert "鼓楼区城市管理局" not in listed
    in_taijiang = client.get("/console/units", params={"region": "350103"}).text
    assert "台江区城管局" in in_taijiang
    assert "data-cascade" in in_taijiang
    assert "台江区城管局" not in client.get("/console/units", params={"status": "inactive"}).text
    assert "台江区城管局" in client.get("/console/units", params={"status": "active"}).text
    nowhere = client.get("/console/units", params={"region": "359999"})
    assert nowhere.status_code == 200
    assert "台江区城管局" not in nowhere.text


def test_child_region_form_shows_field_errors(
    client: TestClient, session: Session, form_token
) -> None:  # type: ignore[no-untyped-def]
    make_small_city(session)
    make_user(session, "admin", Role.platform_admin)
    csrf = sign_in(client, "admin")
    response = client.post(
        "/console/regions/350102/children",
        data={
            "csrf_token": csrf,
            "form_token": form_token(),
            "code": "350103009",
            "name": "x",
            "level": "street",
            "official": "on",
        },
    )
    assert response.status_code == 422
    assert "应以上级编码" in response.text


def test_import_page_names_bad_rows(client: TestClient, session: Session, form_token) -> None:  # type: ignore[no-untyped-def]
    make_small_city(session)
    make_user(session, "admin", Role.platform_admin)
    csrf = sign_in(client, "admin")
    content = "code,name,level,kind,parent\n350104,仓山区,district,市辖区,350100\n350105,马尾区,moon,,350100\n"
    response = client.post(
        "/console/orgs/import",
        data={"csrf_token": csrf, "form_token": form_token()},
        files={"file": ("regions.csv", content.encode(), "text/csv")},
    )
    assert response.status_code == 422
    assert "<td>3</td>" in response.text
    assert service.list_regions(session, parent_code="350100")[-1].code == "350103"


def test_outlines_are_imported_in_the_console_and_drawn_on_the_region_page(
    client: TestClient, session: Session, form_token
) -> None:  # type: ignore[no-untyped-def]
    make_small_city(session)
    make_user(session, "admin", Role.platform_admin)
    csrf = sign_in(client, "admin")
    assert "暂无边界" in client.get("/console/regions/350102").text
    bad = collection(
        feature("350102", box(119.2, 26.0, 119.31, 26.2)), feature("x9", box(0, 0, 1, 1))
    )
    refused = client.post("/console/orgs/import", data={"csrf_token": csrf, "form_token": form_token()},
                          files={"file": ("fz.geojson", bad)})  # fmt: skip
    assert refused.status_code == 422
    assert "没有编码为 x9 的行政区划" in refused.text
    assert "要素" in refused.text  # problems named by feature, not row
    done = client.post("/console/orgs/import", data={"csrf_token": csrf, "form_token": form_token(), "source": "民政局勘界"},
                       files={"file": ("fz.geojson", collection(*CITY))})  # fmt: skip
    assert done.status_code == 200
    assert "导入完成" in done.text
    page = client.get("/console/regions/350102").text
    assert "民政局勘界" in page
    assert "km²" in page
    # the district's outline, and its street's inside it, linked
    assert page.count("<path ") == 2
    assert '<a href="/console/regions/350102001"><path' in page


def test_the_units_list_is_filtered_by_name_kind_and_region(
    client: TestClient, session: Session
) -> None:
    from citybase.core.orgs.schemas import UnitCreate, UnitKind
    from tests.core.orgs.factories import TEST_ACTOR

    make_small_city(session)
    service.create_unit(session, TEST_ACTOR, UnitCreate(
        code="gl.gov", name="鼓楼区人民政府", region_code="350102",
        kind=UnitKind.district_government))  # fmt: skip
    make_user(session, "viewer", Role.viewer)
    sign_in(client, "viewer")

    def codes(query: str) -> set[str]:
        page = client.get(f"/console/units?{query}")
        assert page.status_code == 200
        return set(re.findall(r'<td class="mono">([^<]+)</td>', page.text))

    everyone = codes("")
    assert {"gl.gov", "fz.bigdata", "fz.urban"} <= everyone
    assert codes("kind=district_government") == {"gl.gov"}
    departments = codes("kind=department")
    assert "fz.bigdata" in departments
    assert "gl.gov" not in departments
    assert codes("q=大数据") == {"fz.bigdata"}
    in_gulou = codes("region=350102")
    assert "gl.gov" in in_gulou
    assert "fz.bigdata" not in in_gulou
    assert codes("region=350102&kind=district_government&q=政府") == {"gl.gov"}
    assert "gl.gov" not in codes("region=350102&kind=department")
    # a kind that is none of ours filters nothing, and the page says so in its language
    assert codes("kind=galaxy") == everyone
    page = client.get("/console/units?kind=district_government").text
    assert '<option value="district_government" selected>' in page
    assert "区县政府" in page
