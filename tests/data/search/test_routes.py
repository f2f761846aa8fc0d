from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from citybase.data.catalog import service as catalog
from citybase.data.search import service
from tests.core.identity.factories import sign_in
from tests.data.catalog.factories import catalog_people, make_published


def test_search_through_the_api_and_the_console(client: TestClient, session: Session) -> None:
    people = catalog_people(session)
    fund = make_published(
        session, people, name="住房公积金缴存信息", theme_tags=["住房保障"], base_tags=[]
    )
    make_published(session, people, name="城市道路井盖信息")
    service.reindex(session, catalog.all_codes(session))
    assert client.get("/api/v1/search", params={"q": "公积金"}).status_code == 401
    sign_in(client, "reader")
    body = client.get("/api/v1/search", params={"q": "公积金", "limit": 5}).json()
    assert body["total"] == 1
    assert body["hits"][0]["code"] == fund.code
    assert body["facets"]["theme"] == [{"value": "住房保障", "count": 1, "label": ""}]
    bad = client.get("/api/v1/search", params={"limit": 0})
    assert bad.status_code == 422

    page = client.get("/console/search", params={"q": "公积金"})
    assert page.status_code == 200
    assert "住房公积金缴存信息" in page.text
    assert "城市道路井盖信息" not in page.text
    assert "共找到 1 个资源" in page.text
    narrowed = client.get("/console/search", params={"theme": "住房保障"})
    assert "住房公积金缴存信息" in narrowed.text
    assert "城市道路井盖信息" not in narrowed.text
    assert "?theme=" not in narrowed.text.split("chosen", 1)[1].split("</li>", 1)[0]
