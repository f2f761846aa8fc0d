"""The CKAN Action API as CKAN clients call it: the query shapes ckanext-harvest's CKAN harvester
sends, the group and tag actions, and writes refused in CKAN's envelope."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.data.catalog.factories import catalog_people, make_published
from tests.data.opendata.factories import open_datasets


def _harvest(client: TestClient, fq_terms: list[str], rows: int = 1) -> list[dict[str, Any]]:
    """What the CKAN harvester's gather stage does: page through ``package_search`` sorted by
    id, ``rows`` at a time, until a page comes back empty."""
    params: dict[str, str] = {"rows": str(rows), "start": "0", "sort": "id asc"}
    if fq_terms:
        params["fq"] = " ".join(fq_terms)
    found: list[dict[str, Any]] = []
    previous = None
    while True:
        answer = client.get("/api/3/action/package_search", params=params)
        assert answer.status_code == 200, answer.text
        assert answer.text != previous, "the paging does not move"
        previous = answer.text
        page = answer.json()["result"]["results"]
        if not page:
            return found
        found.extend(page)
        params["start"] = str(int(params["start"]) + rows)


def test_the_harvester_query_shapes(client: TestClient, session: Session) -> None:
    made = open_datasets(session, catalog_people(session))
    both = sorted(made[k].code for k in ("open", "conditional"))
    everything = _harvest(client, [])
    assert [p["id"] for p in everything] == both  # sorted by id, paged one at a time
    since = (datetime.now(UTC).replace(tzinfo=None) - timedelta(hours=1)).isoformat()
    later = (datetime.now(UTC).replace(tzinfo=None) + timedelta(hours=1)).isoformat()
    assert len(_harvest(client, [f"metadata_modified:[{since}Z TO *]"])) == 2
    assert _harvest(client, [f"metadata_modified:[{later}Z TO *]"]) == []
    assert _harvest(client, ["-organization:fz-urban"]) == []
    assert len(_harvest(client, ["-organization:elsewhere", "-organization:nowhere"])) == 2
    include = "organization:elsewhere OR organization:fz-urban"
    assert len(_harvest(client, [include, f"metadata_modified:[{since}Z TO *]"])) == 2
    assert _harvest(client, [include, f"metadata_modified:[{later}Z TO *]"]) == []
    assert len(_harvest(client, ["groups:jiaotongyunshu OR groups:other"], rows=100)) == 2
    assert _harvest(client, ["-groups:jiaotongyunshu"]) == []
    # the import stage then reads each remote group and organization
    package = everything[0]
    group = client.get("/api/3/action/group_show", params={"id": package["groups"][0]["id"]})
    assert group.json()["result"]["name"] == "jiaotongyunshu"
    assert group.json()["result"]["title"] == "交通运输"
    org = client.get("/api/3/action/organization_show", params={"id": "fz-urban"})
    assert org.json()["result"]["package_count"] == 2


def test_solr_queries_in_q_and_fq(client: TestClient, session: Session) -> None:
    made = open_datasets(session, catalog_people(session))
    code = made["open"].code

    def count(**params: Any) -> int:
        answer = client.get("/api/3/action/package_search", params=params)
        assert answer.status_code == 200, answer.text
        return int(answer.json()["result"]["count"])

    assert count(q="*:*") == 2
    assert count(q="停车") == 2  # the catalog's own Chinese partial-word search
    assert count(q="泊位 AND tags:泊位") == 1
    assert count(q='title:"实时泊位"') == 1
    assert count(q="tags:泊位 OR tags:实时") == 1
    assert count(q="停车 -tags:泊位") == 1
    assert count(q="NOT tags:泊位") == 1
    assert count(q=f"name:{code.lower()}") == 1
    assert count(q=f"id:{code[:4]}*") == 2
    assert count(fq="res_format:CSV +dataset_type:dataset") == 2
    assert count(fq="license_id:citybase-open") == 1
    assert count(fq="num_resources:[3 TO *]") == 2
    assert count(fq="metadata_modified:[* TO NOW]") == 2
    assert count(fq="metadata_modified:[NOW TO *]") == 0
    assert count(fq="(tags:泊位 OR tags:停车) AND organization:fz-urban") == 1
    result = client.get("/api/3/action/package_search", params={
        "sort": "title_string asc", "rows": 1,
        "facet.field": '["organization","groups","tags","res_format","license_id"]',
    }).json()["result"]  # fmt: skip
    assert [p["title"] for p in result["results"]] == ["停车场实时泊位信息"]
    assert result["facets"]["res_format"] == {"CSV": 2, "JSON": 2, "XLSX": 2}
    assert result["facets"]["groups"] == {"jiaotongyunshu": 2}
    assert result["facets"]["license_id"] == {"citybase-conditional": 1, "citybase-open": 1}
    assert result["search_facets"]["organization"]["items"][0]["count"] == 2
    titles = [p["title"] for p in client.get("/api/3/action/package_search",
              params={"sort": "title_string desc, id asc"}).json()["result"]["results"]]  # fmt: skip
    assert titles == ["公共停车场信息", "停车场实时泊位信息"]
    capped = client.get("/api/3/action/package_search", params={"rows": 5000}).json()
    assert capped["success"] is True  # CKAN caps rows at its maximum (1,000), silently


def test_bad_queries_get_ckan_errors(client: TestClient, session: Session) -> None:
    open_datasets(session, catalog_people(session))
    for params in ({"q": "title:(停车"}, {"fq": "secret:x"}, {"sort": "notes asc"},
                   {"fq": "metadata_modified:[yesterday TO *]"}, {"q": 'title:"open'},
                   {"facet.field": '["password"]'}):  # fmt: skip
        answer = client.get("/api/3/action/package_search", params=params)
        assert answer.status_code == 409, params
        assert answer.json()["success"] is False
        assert answer.json()["error"]["__type"] == "Search Query Error"
    assert client.get("/api/3/action/package_search", params={"rows": -1}).status_code == 409
    odd = client.post("/api/3/action/package_search", json={"fq": 5, "fq_list": ["tags:泊位", 3]})
    assert odd.status_code == 200, odd.text  # values of any JSON type are read as text
    listed = client.post("/api/3/action/package_search", json={"q": ["x"]})
    assert listed.status_code == 409


def test_groups_tags_and_lists(client: TestClient, session: Session) -> None:
    people = catalog_people(session)
    made = open_datasets(session, people)

    def result(action: str, **params: Any) -> Any:
        answer = client.get(f"/api/3/action/{action}", params=params)
        assert answer.status_code == 200, answer.text
        return answer.json()["result"]

    assert result("group_list") == ["jiaotongyunshu"]
    assert result("group_list", all_fields="true")[0]["package_count"] == 2
    shown = result("group_show", id="jiaotongyunshu", include_datasets="true")
    assert len(shown["packages"]) == 2
    assert result("group_show", id="交通运输")["name"] == "jiaotongyunshu"
    keywords = set(made["open"].keywords) | set(made["conditional"].keywords)
    assert result("tag_list") == sorted(keywords)
    assert {"停车", "泊位"} <= keywords
    assert result("tag_list", query="泊") == ["泊位"]
    assert result("tag_show", id="泊位", include_datasets="true")["packages"][0]["id"] == (
        made["open"].code
    )
    packages = result("current_package_list_with_resources", limit=1)
    assert len(packages) == 1
    assert len(packages[0]["resources"]) == 3
    assert result("resource_view_list", id=f"{made['open'].code}-csv") == []
    for action, ident in (("group_show", "nothing"), ("tag_show", "无此标签")):
        missing = client.get(f"/api/3/action/{action}", params={"id": ident})
        assert missing.status_code == 404
        assert missing.json()["error"]["__type"] == "Not Found Error"
    # a dataset that is not open brings neither its theme nor its keywords
    make_published(session, people, name="内部台账", open_type="none", keywords=["内部"],
                   theme_tags=["内部管理"])  # fmt: skip
    assert result("group_list") == ["jiaotongyunshu"]
    assert "内部" not in result("tag_list")


def test_package_show_has_ckan_standard_fields(client: TestClient, session: Session) -> None:
    made = open_datasets(session, catalog_people(session))
    package = client.get(
        "/api/3/action/package_show", params={"id": made["open"].code.lower()}
    ).json()["result"]
    for field in ("id", "name", "title", "notes", "url", "version", "state", "type",
                  "license_id", "license_title", "author", "maintainer", "metadata_created",
                  "metadata_modified", "organization", "owner_org", "groups", "tags",
                  "resources", "extras", "private", "num_resources", "num_tags"):  # fmt: skip
        assert field in package, field
    for field in ("id", "package_id", "url", "format", "name", "description", "mimetype",
                  "size", "hash", "created", "last_modified", "position", "state"):  # fmt: skip
        assert field in package["resources"][0], field
    import re

    assert re.fullmatch(r"[a-z0-9_-]{2,100}", package["name"])
    assert re.fullmatch(r"[a-z0-9_-]{2,100}", package["organization"]["name"])
    assert all(re.fullmatch(r"[a-z0-9_-]{2,100}", g["name"]) for g in package["groups"])


def test_writes_are_refused_for_anonymous_callers(client: TestClient, session: Session) -> None:
    made = open_datasets(session, catalog_people(session))
    code = made["open"].code
    for action in ("package_revise", "package_create", "package_patch", "resource_delete",
                   "group_purge", "tag_create"):  # fmt: skip
        answer = client.post(f"/api/3/action/{action}",
                             json={"match": {"id": code}, "update": {"title": "改"}})  # fmt: skip
        assert answer.status_code == 403, action
        body = answer.json()
        assert body["success"] is False
        assert body["error"]["__type"] == "Authorization Error"
    shown = client.get("/api/3/action/package_show", params={"id": code}).json()["result"]
    assert shown["title"] == "公共停车场信息"


def test_every_refusal_is_in_ckans_envelope(
    client: TestClient, session: Session, monkeypatch: Any
) -> None:
    from citybase.data.opendata import ckan

    open_datasets(session, catalog_people(session))

    def envelope(answer: Any, status: int, kind: str) -> None:
        assert answer.status_code == status, answer.text
        body = answer.json()
        assert body["success"] is False
        assert body["error"]["__type"] == kind
        assert "help" in body

    envelope(client.put("/api/3/action/package_list"), 405, "Bad request")
    assert "GET" in client.put("/api/3/action/package_list").headers["allow"]
    envelope(client.post("/api/3/action/package_search", content=b"<q>x</q>",
                         headers={"Content-Type": "application/xml"}), 415, "Bad request")  # fmt: skip
    envelope(client.get("/api/3/action/package_list", headers={"Accept": "text/csv"}), 406,
             "Bad request")  # fmt: skip
    assert client.get("/api/3/action/package_list",
                      headers={"Accept": "text/html, */*;q=0.8"}).status_code == 200  # fmt: skip
    envelope(client.post("/api/3/action/package_search", content=b"{",
                         headers={"Content-Type": "application/json"}), 400, "Bad request")  # fmt: skip

    def broken(self: Any) -> None:
        raise RuntimeError("a fault of ours")

    monkeypatch.setitem(ckan.ACTIONS, "status_show", broken)
    envelope(client.get("/api/3/action/status_show"), 500, "Internal Server Error")
    assert "fault" not in client.get("/api/3/action/status_show").text  # nothing of the cause
