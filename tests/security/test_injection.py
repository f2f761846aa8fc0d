"""SQL, LIKE and full-text injection in searches, filters and query parameters: the catalog's
search and list, the CKAN API's package_search (q, fq) and datastore_search, the case list's
filters, users and units, and NGSI-LD's ``q`` (read only here). Each answers with no 500, no row
more than the words honestly match, and no error that shows SQL."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx2 import Response
from sqlalchemy.orm import Session

from tests.data.catalog.factories import catalog_people
from tests.data.opendata.factories import open_datasets
from tests.security.people import act_as, demo_city

# what a word of a search may be made of to widen it, or to break out of its quotes
WILDCARDS = ["%", "_", "%%", "\\%", "%_%", "\\"]
SQL = ["' OR '1'='1", "' OR 1=1 --", '" OR ""="', "1; DROP TABLE hub_cases; --",
       "') OR ('a'='a", "' UNION SELECT username, password_hash FROM users --", "\x00", "'\\''"]  # fmt: skip
FTS = ['"', '""', "*", "NEAR(a b)", "a OR b", "NOT 停车", "停车 OR 1", "^停车", "停车:*",
       "'停车' | '泊位'", "!停车", "&", "<->", "(", ")", "停车\" OR \"1", "{停车}", "col:停车"]  # fmt: skip
# what a database error carries (the caller's own words may be echoed back; these never are)
LEAKS = re.compile(r"sqlite3|psycopg|OperationalError|ProgrammingError|DataError|Traceback|"
                   r"syntax error at|sqlalche|\[SQL:|\[parameters:|LINE 1:", re.IGNORECASE)  # fmt: skip


def _clean(r: Response, *allowed: int) -> None:
    """Answered in the API's own terms: no 500, no SQL or stack in the body."""
    assert r.status_code in (allowed or (200,)), (r.status_code, r.text[:300])
    assert not LEAKS.search(r.text), r.text[:300]


@pytest.fixture
def catalog(client: TestClient, session: Session) -> dict[str, Any]:
    people = catalog_people(session)
    made = open_datasets(session, people)
    return {k: v.code for k, v in made.items()}


def test_the_catalog_list_and_search(client: TestClient, catalog: dict[str, Any]) -> None:
    act_as(client, "reader")
    everything = client.get("/api/v1/catalog/resources").json()["total"]
    assert everything == 3
    for q in WILDCARDS + SQL:
        r = client.get("/api/v1/catalog/resources", params={"q": q})
        _clean(r, 200, 422)  # 422: a NUL character, which no text holds
        assert r.json().get("total", 0) == 0, (
            q,
            r.json()["total"],
        )  # no name holds these characters
    for q in FTS + WILDCARDS + SQL:
        r = client.get("/api/v1/search", params={"q": q})
        _clean(r, 200, 422)
        if r.status_code == 200:
            found = {h["code"] for h in r.json()["hits"]}
            # at most the resources whose words the query's own words match: 停车 is in all three
            assert r.json()["total"] <= (3 if "停车" in q or "泊位" in q else 0), (q, found)
    # the honest words still find what they should
    assert client.get("/api/v1/search", params={"q": "泊位"}).json()["total"] >= 1


def _ckan(client: TestClient, action: str, **params: Any) -> Response:
    return client.get(f"/api/3/action/{action}", params=params)


def test_ckan_package_search(client: TestClient, catalog: dict[str, Any]) -> None:
    client.cookies.clear()
    assert _ckan(client, "package_search").json()["result"]["count"] == 2  # the open ones
    for q in FTS + WILDCARDS + SQL:
        r = _ckan(client, "package_search", q=q)
        _clean(r, 200, 409)
        if r.status_code == 200:
            # ``*`` and a query with no term in it (``""``) are CKAN's "everything" (*:*): the
            # open datasets, never the closed one
            everything = "停车" in q or "泊位" in q or q.strip(' "*') == ""
            assert r.json()["result"]["count"] <= (2 if everything else 0), q
    for fq in [f"organization:{s}" for s in SQL] + [f'groups:"{s}"' for s in SQL] + [
        "level:%", "format:_", "region:' OR 1=1", "tags:%", 'organization:"fz-urban" OR 1=1',
        "organization:fz-urban) OR (1=1", "+", ":", "a:b:c", "organization:fz-urban; --"
    ]:  # fmt: skip
        r = _ckan(client, "package_search", fq=fq)
        _clean(r, 200, 409)
        if r.status_code == 200:
            # Solr's reading: ``organization:"fz-urban" OR 1=1`` is that organization's open
            # datasets or the words 1=1; no filter reaches past the open datasets
            expected = 2 if fq.startswith('organization:"fz-urban" OR') else 0
            assert r.json()["result"]["count"] == expected, fq
        else:
            assert r.json()["error"]["__type"] in ("Search Query Error", "Validation Error")
    for sort in ["name asc; DROP TABLE data_resources", "name asc, (SELECT 1)", "1"]:
        r = _ckan(client, "package_search", sort=sort)
        _clean(r, 409)


def test_ckan_datastore_search(client: TestClient, catalog: dict[str, Any]) -> None:
    client.cookies.clear()
    rid = _ckan(client, "package_show", id=catalog["open"].lower()).json()["result"]
    resource_id = rid["resources"][0]["id"]
    plain = _ckan(client, "datastore_search", resource_id=resource_id)
    assert plain.json()["result"]["total"] == 3
    for q in WILDCARDS + SQL:
        r = _ckan(client, "datastore_search", resource_id=resource_id, q=q)
        _clean(r, 200, 409)
        if r.status_code == 200:
            assert r.json()["result"]["total"] == 0, (q, r.json()["result"]["records"])
    for filters in [{"停车场名称": s} for s in SQL + WILDCARDS] + [
        {"停车场名称' OR '1'='1": "x"}, {"泊位数": "1 OR 1=1"}, {"泊位数": {"$gt": 0}},
    ]:  # fmt: skip
        r = _ckan(client, "datastore_search", resource_id=resource_id,
                  filters=json.dumps(filters, ensure_ascii=False))  # fmt: skip
        _clean(r, 200, 409)
        if r.status_code == 200:
            assert r.json()["result"]["total"] == 0, filters
    for sort in ['"泊位数" desc; DROP TABLE datastore_rows', "泊位数 sideways", "(SELECT 1)"]:
        r = _ckan(client, "datastore_search", resource_id=resource_id, sort=sort)
        _clean(r, 409)
    for fields in ["停车场名称, (SELECT 1)", "*", "停车场名称' --"]:
        r = _ckan(client, "datastore_search", resource_id=resource_id, fields=fields)
        _clean(r, 409)


ROAD = {
    "reporter_name": "林小明", "reporter_phone": "13805911234",
    "text": "鼓东路口的井盖缺失了，晚上很危险", "address": "鼓楼区鼓东街道虎节社区",
    "category_code": "010202",
}  # fmt: skip


def test_case_list_filters(client: TestClient, session: Session) -> None:
    demo_city(session)
    op = act_as(client, "operator")
    for text, address in (
        ("鼓楼区路灯不亮了", "鼓楼区鼓东街道"),
        ("台江区路面塌陷请处理", "台江区"),
    ):
        made = client.post("/api/v1/hub/cases", headers=op,
                           json=ROAD | {"text": text, "address": address})  # fmt: skip
        assert made.status_code == 201, made.text
    act_as(client, "supervisor")  # sees every case
    assert client.get("/api/v1/hub/cases").json()["total"] == 2
    for name in ("q", "involving_unit", "lead_unit", "within", "category_code", "district_code",
                 "phone", "numbers", "category_codes", "warning"):  # fmt: skip
        for value in WILDCARDS + SQL:
            r = client.get("/api/v1/hub/cases", params={name: value})
            _clean(r, 200, 422)
            if r.status_code == 200:
                assert r.json()["total"] == 0, (name, value)
            export = client.get("/api/v1/hub/cases.xlsx", params={name: value})
            _clean(export, 200, 422)
    # a handler's own unit bounds whatever the filter says
    act_as(client, "handler")
    assert client.get("/api/v1/hub/cases").json()["total"] == 1
    for value in ["%", "_", "%gl.urban%", "tj.urban' OR '1'='1"]:
        r = client.get("/api/v1/hub/cases", params={"involving_unit": value})
        assert (r.status_code, r.json()["total"]) == (200, 0), value
    for value in ["%", "_"]:
        page = client.get("/console/hub/cases", params={"q": value})
        assert page.status_code == 200
        assert "路灯" not in page.text


def test_case_list_support_units_are_matched_whole(client: TestClient, session: Session) -> None:
    """A support unit is matched as the whole code, not as a pattern: ``%`` finds no case."""
    demo_city(session)
    op = act_as(client, "operator")
    made = client.post("/api/v1/hub/cases", headers=op, json=ROAD)
    number = made.json()["case"]["number"]
    sent = client.post(f"/api/v1/hub/cases/{number}/actions/reassign", headers=op,
                       json={"note": "协办", "lead_unit": "tj.urban", "support_units": ["gl.urban"]})  # fmt: skip
    assert sent.status_code == 200, sent.text
    act_as(client, "supervisor")
    assert (
        client.get("/api/v1/hub/cases", params={"involving_unit": "gl.urban"}).json()["total"] == 1
    )
    for value in ["%", "gl.%", "gl_urban", "%urban"]:
        r = client.get("/api/v1/hub/cases", params={"involving_unit": value})
        assert r.json()["total"] == 0, value


def test_users_and_units(client: TestClient, session: Session) -> None:
    demo_city(session)
    act_as(client, "admin")
    for q in WILDCARDS + SQL:
        users = client.get("/api/v1/users", params={"q": q})
        _clean(users, 200, 422)
        if users.status_code == 422:
            assert (q, users.json()["error"]["field"]) == ("\x00", "text")
            continue
        assert users.json() == [], q
        units = client.get("/api/v1/units", params={"q": q})
        _clean(units)
        # only units that hold the characters themselves (fz.admin_service holds a "_")
        assert all(q.lower() in f"{u['code']} {u['name']} {u['short_name'] or ''}".lower()
                   for u in units.json()), q  # fmt: skip
        page = client.get("/console/users", params={"q": q}, headers={"Accept": "text/html"})
        _clean(page)
    assert [u["username"] for u in client.get("/api/v1/users", params={"q": "handler"}).json()] == [
        "handler", "tj.handler"]  # fmt: skip


GAUGE = {"id": "urn:ngsi-ld:WaterLevel:baima-01", "type": "WaterLevel",
         "level": {"type": "Property", "value": 1.5}, "name": {"type": "Property", "value": "白马河"}}  # fmt: skip


def test_ngsi_ld_q(client: TestClient, session: Session) -> None:
    """NGSI-LD's ``q`` grammar is parsed, never pasted into SQL: a string that is not a query is
    refused as a bad request, and one that parses matches only what it says."""
    demo_city(session)
    h = act_as(client, "admin") | {"Content-Type": "application/json"}
    made = client.post("/ngsi-ld/v1/entities", content=json.dumps(GAUGE), headers=h)
    assert made.status_code == 201, made.text
    other = GAUGE | {"id": "urn:ngsi-ld:WaterLevel:baima-02", "name": {"type": "Property",
                                                                      "value": "晋安河"}}  # fmt: skip
    assert (
        client.post("/ngsi-ld/v1/entities", content=json.dumps(other), headers=h).status_code == 201
    )
    for q in [f"name=={json.dumps(s)}" for s in SQL + WILDCARDS] + [
        "name~=.*", "name~=%", "level>0 OR 1=1", "level>0;DROP TABLE x", "name==\"白马河\"|1=1",
        "level==1' OR '1'='1", "name[0]==x", "level>'", "(", "name==\"", ")" , "level==1)--",
    ]:  # fmt: skip
        r = client.get("/ngsi-ld/v1/entities", params={"type": "WaterLevel", "q": q})
        _clean(r, 200, 400)
        if r.status_code == 200 and "~=" not in q and "|" not in q:
            assert r.json() == [], (q, r.json())


def test_no_query_takes_the_callers_words_as_a_pattern() -> None:
    """Words looked for go to LIKE through ``contains``/``icontains`` with ``autoescape`` (a % or
    _ in them is the character itself); a hand-made ``like(f"%{q}%")`` is how the ones above
    matched every row. This keeps new queries from doing it again."""
    import ast
    from pathlib import Path

    import citybase

    found = []
    for path in Path(citybase.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            name, where = node.func.attr, f"{path.name}:{node.lineno}"
            if name in ("like", "ilike", "not_like", "not_ilike", "notlike", "notilike"):
                if not (node.args and isinstance(node.args[0], ast.Constant)):
                    found.append(f"{where} {name}() of a built pattern")
            elif name in ("contains", "icontains") and path.name == "repository.py":
                escaped = any(k.arg == "autoescape" for k in node.keywords)
                if not escaped:
                    found.append(f"{where} {name}() without autoescape")
    assert found == []
