from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pyshacl
import pytest
from fastapi.testclient import TestClient
from rdflib import Graph
from sqlalchemy.orm import Session

from tests.core.identity.factories import sign_in
from tests.data.catalog.factories import catalog_people
from tests.data.opendata.factories import open_datasets

SHAPES = Graph().parse(Path(__file__).with_name("dcat_ap_shapes.ttl"), format="turtle")


def _conforms(body: str, fmt: str) -> Graph:
    graph = Graph().parse(data=body, format=fmt)
    conforms, _, report = pyshacl.validate(graph, shacl_graph=SHAPES, inference="none")
    assert conforms, report
    return graph


def test_the_portal_is_public_and_lists_only_open_data(
    client: TestClient, session: Session
) -> None:
    made = open_datasets(session, catalog_people(session))
    page = client.get("/open")
    assert page.status_code == 200
    assert "公共停车场信息" in page.text
    assert "停车场实时泊位信息" in page.text
    assert "停车场收费稽查台账" not in page.text
    assert "公共停车场信息" not in client.get("/open", params={"open_type": "conditional"}).text
    found = client.get("/open", params={"q": "泊位"})
    assert "公共停车场信息" in found.text  # a keyword
    dataset = client.get(f"/open/{made['open'].code}")
    assert "东街口停车场" in dataset.text  # the preview
    assert f"/open/{made['open'].code}/download.xlsx" in dataset.text
    conditional = client.get(f"/open/{made['conditional'].code}")
    assert "东街口停车场" not in conditional.text
    assert f"/open/{made['conditional'].code}/apply" in conditional.text
    assert client.get(f"/open/{made['closed'].code}").status_code == 404
    assert client.get("/open/licence").status_code == 200


def test_downloads_are_public_for_open_data_only(client: TestClient, session: Session) -> None:
    made = open_datasets(session, catalog_people(session))
    got = client.get(f"/open/{made['open'].code}/download.csv")
    assert got.status_code == 200
    assert got.headers["content-type"].startswith("text/csv")
    assert "attachment" in got.headers["content-disposition"]
    assert list(csv.reader(io.StringIO(got.content.decode("utf-8-sig"))))[1][0] == "东街口停车场"
    assert client.get(f"/open/{made['conditional'].code}/download.csv").status_code == 403
    assert client.get(f"/open/{made['closed'].code}/download.csv").status_code == 404


def test_an_application_from_the_portal_to_the_download(
    client: TestClient, session: Session, form_token
) -> None:  # type: ignore[no-untyped-def]
    made = open_datasets(session, catalog_people(session))
    code = made["conditional"].code
    bad = client.post(
        f"/open/{code}/apply",
        data={"applicant": "林晓", "email": "x", "purpose": "短", "form_token": form_token()},
    )
    assert bad.status_code == 422
    assert "email" in bad.text
    form = {"applicant": "林晓", "email": "lin@example.com", "days": "30",
            "purpose": "开发停车导航小程序，实时展示空余泊位。"}  # fmt: skip
    receipt = client.post(f"/open/{code}/apply", data=form | {"form_token": form_token()})
    assert receipt.status_code == 201
    number = receipt.text.split('class="mono">', 2)[1].split("<", 1)[0]
    token = receipt.text.split('class="mono">', 3)[2].split("<", 1)[0]
    assert number.startswith("OA")

    csrf = sign_in(client, "urbansteward")
    inbox = client.get("/console/open/applications")
    assert number in inbox.text
    refused = client.post(f"/console/open/applications/{number}",
                          data={"csrf_token": csrf, "decision": "refuse",
                                "form_token": form_token()})  # fmt: skip
    assert refused.status_code == 422  # a refusal needs a reason
    approved = client.post(f"/console/open/applications/{number}",
                           data={"csrf_token": csrf, "decision": "approve", "days": "10",
                                 "form_token": form_token()})  # fmt: skip
    assert approved.status_code == 200
    client.cookies.clear()

    followed = client.post("/open/applications/follow", data={"number": number, "token": token})
    assert "已同意" in followed.text
    got = client.post(f"/open/{code}/download.json", data={"application": number, "token": token})
    assert json.loads(got.content)["records"][1]["泊位数"] == 1200
    api = client.get(f"/api/v1/open/applications/{number}", headers={"X-Application-Token": token})
    assert api.json()["downloads"] == 1
    assert client.post("/open/applications/follow",
                       data={"number": number, "token": "x"}).status_code == 404  # fmt: skip


def test_the_dcat_ap_export_validates_against_the_shapes(
    client: TestClient, session: Session
) -> None:
    made = open_datasets(session, catalog_people(session))
    turtle = client.get("/catalog.ttl")
    assert turtle.headers["content-type"].startswith("text/turtle")
    graph = _conforms(turtle.text, "turtle")
    datasets = {str(s) for s in graph.subjects(predicate=None, object=None)
                if str(s).startswith("http://testserver/open/3") and "#" not in str(s)}  # fmt: skip
    assert datasets == {f"http://testserver/open/{made[k].code}" for k in ("open", "conditional")}
    jsonld = client.get("/catalog.jsonld")
    assert jsonld.headers["content-type"].startswith("application/ld+json")
    assert "@context" in jsonld.json()
    assert len(_conforms(jsonld.text, "json-ld")) == len(graph)
    one = client.get(f"/open/{made['open'].code}/dcat.ttl")
    _conforms(one.text, "turtle")
    assert "download.csv" in one.text
    assert client.get(f"/open/{made['closed'].code}/dcat.ttl").status_code == 404


def test_an_export_missing_a_mandatory_property_fails_the_shapes() -> None:
    """The shapes are not empty: a dataset without a description is refused."""
    bad = """@prefix dcat: <http://www.w3.org/ns/dcat#> . @prefix dct: <http://purl.org/dc/terms/> .
    <http://x/d> a dcat:Dataset ; dct:title "t"@zh ; dct:identifier "d" ; dcat:contactPoint <http://x/c> ."""
    conforms, _, _ = pyshacl.validate(Graph().parse(data=bad, format="turtle"), shacl_graph=SHAPES)
    assert not conforms


def test_the_ckan_action_api(client: TestClient, session: Session) -> None:
    made = open_datasets(session, catalog_people(session))
    code = made["open"].code

    def call(action: str, **params: object) -> dict:  # type: ignore[type-arg]
        return client.post(f"/api/3/action/{action}", json=params).json()

    listed = call("package_list")
    assert listed["success"] is True
    assert listed["help"].endswith("help_show?name=package_list")
    assert listed["result"] == sorted([code.lower(), made["conditional"].code.lower()])
    package = client.get("/api/3/action/package_show", params={"id": code.lower()}).json()["result"]
    assert (package["title"], package["organization"]["name"]) == ("公共停车场信息", "fz-urban")
    assert [r["format"] for r in package["resources"]] == ["CSV", "JSON", "XLSX"]
    assert {"key": "open_type", "value": "unconditional"} in package["extras"]
    found = call("package_search", q="停车", fq="organization:fz-urban", rows=1, start=0,
                 sort="metadata_modified desc", **{"facet.field": ["organization"]})["result"]  # fmt: skip
    assert found["count"] == 2
    assert len(found["results"]) == 1
    assert found["search_facets"]["organization"]["items"][0]["count"] == 2
    assert call("package_search", fq='groups:"交通运输"')["result"]["count"] == 2
    assert call("package_search", fq="tags:泊位")["result"]["count"] == 1
    assert call("organization_list")["result"] == ["fz-urban"]
    org = call("organization_show", id="fz-urban", include_datasets=True)["result"]
    assert (org["package_count"], len(org["packages"])) == (2, 2)
    assert call("resource_show", id=f"{code}-csv")["result"]["url"].endswith("download.csv")
    rows = call("datastore_search", resource_id=f"{code}-csv", filters={"所属区划": "鼓楼区"},
                sort="泊位数 desc", limit=1)["result"]  # fmt: skip
    assert rows["total"] == 2
    assert rows["records"] == [{"停车场名称": "三坊七巷停车场", "所属区划": "鼓楼区", "泊位数": 450,
                                "收费标准": "8"}]  # fmt: skip
    assert {"id": "泊位数", "type": "int"} in rows["fields"]

    missing = client.post("/api/3/action/package_show", json={"id": made["closed"].code})
    assert missing.status_code == 404
    assert missing.json()["error"]["__type"] == "Not Found Error"
    restricted = call("datastore_search", resource_id=f"{made['conditional'].code}-csv")
    assert restricted["error"]["__type"] == "Authorization Error"
    assert call("package_search", fq="secret:x")["error"]["__type"] == "Search Query Error"
    assert call("package_search", rows="many")["error"]["__type"] == "Validation Error"
    assert client.post("/api/3/action/package_create", json={}).status_code == 403
    assert client.get("/api/3/action/no_such_action").status_code == 400


@pytest.fixture
def live_server(fresh_settings):  # type: ignore[no-untyped-def]
    """The app on a real socket (loopback), its data committed, for clients that speak HTTP."""
    import socket
    import threading
    import time

    import uvicorn

    from citybase.app import create_app
    from citybase.core.db.engine import Database

    db = Database(fresh_settings.resolved_database_url)
    with db.session_scope() as session:
        made = open_datasets(session, catalog_people(session))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(fresh_settings, db), host="127.0.0.1",
                                           port=port, log_level="warning"))  # fmt: skip
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", made
    server.should_exit = True
    thread.join(5)
    db.dispose()


def test_the_ckanapi_client_reads_the_catalog_unchanged(live_server) -> None:  # type: ignore[no-untyped-def]
    ckanapi = pytest.importorskip("ckanapi")
    address, made = live_server
    code = made["open"].code
    for get_only in (False, True):
        ckan = ckanapi.RemoteCKAN(address, user_agent="citybase-test", get_only=get_only)
        assert code.lower() in ckan.action.package_list()
        package = ckan.action.package_show(id=code.lower())
        assert package["resources"][0]["url"] == f"{address}/open/{code}/download.csv"
        assert ckan.action.package_search(q="停车", rows=5)["count"] == 2
        assert ckan.action.organization_show(id="fz-urban")["package_count"] == 2
        rows = ckan.action.datastore_search(resource_id=f"{code}-csv", limit=2)
        assert (rows["total"], len(rows["records"])) == (3, 2)
        with pytest.raises(ckanapi.NotFound):
            ckan.action.package_show(id=made["closed"].code)
        with pytest.raises(ckanapi.NotAuthorized):
            ckan.action.datastore_search(resource_id=f"{made['conditional'].code}-csv")
        with pytest.raises(ckanapi.SearchQueryError):
            ckan.action.package_search(fq="secret:x")


def test_ckanapi_dumps_datasets_groups_and_organizations(live_server, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The ckanapi command as a city's archive job runs it: ``dump … --all`` over HTTP."""
    import os
    import shutil
    import subprocess
    import sys

    pytest.importorskip("ckanapi")
    bin_dir = Path(sys.executable).parent
    command = shutil.which("ckanapi", path=str(bin_dir))
    if command is None:
        pytest.skip("the ckanapi command is not installed beside this Python")
    address, made = live_server
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    dumped = {}
    for thing in ("datasets", "groups", "organizations"):
        out = tmp_path / f"{thing}.jsonl"
        run = subprocess.run([command, "dump", thing, "--all", "-r", address, "-O", str(out),
                              "-p", "1", "-q"], env=env, capture_output=True, text=True,
                             timeout=120)  # fmt: skip
        assert run.returncode == 0, run.stderr
        dumped[thing] = [json.loads(line) for line in out.read_text().splitlines()]
    codes = sorted(made[k].code for k in ("open", "conditional"))
    assert sorted(d["id"] for d in dumped["datasets"]) == codes
    assert all(len(d["resources"]) == 3 for d in dumped["datasets"])
    assert [g["name"] for g in dumped["groups"]] == ["jiaotongyunshu"]
    assert [(o["name"], o["package_count"]) for o in dumped["organizations"]] == [("fz-urban", 2)]
