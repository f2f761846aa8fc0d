from __future__ import annotations

import os
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from citybase.core.identity import service as identity
from citybase.core.identity.schemas import ApiKeyCreate
from citybase.core.orgs import boundaries
from citybase.core.settings import Settings
from citybase.demo.seed import BOUNDARIES_FILE
from citybase.hub.cases import service as cases
from tests.core.identity.factories import principal_of
from tests.hub.cases.factories import SYSTEM, city

POST = {
    "service_code": "010202", "lat": "26.0845", "long": "119.2965",
    "address_string": "鼓楼区鼓东街道虎节社区鼓东路12号",
    "description": "井盖缺失，联系人张三丰，身份证350102199001011234", "phone": "13805911234",
    "first_name": "小明", "last_name": "林", "attribute[urgency]": "pressing",
}  # fmt: skip


def _key(session: Session, settings: Settings, user: str) -> str:
    return identity.create_api_key(session, settings, principal_of(session, user),
                                   ApiKeyCreate(name="open311")).secret  # fmt: skip


def test_services_and_their_definitions(client: TestClient, session: Session) -> None:
    city(session)
    services = client.get("/open311/v2/services.json").json()
    codes = {s["service_code"]: s for s in services}
    assert codes["010202"]["service_name"] == "井盖缺失破损"
    assert codes["010202"]["group"] == "城乡建设与管理"
    assert "01" not in codes  # a 大类 is a group, not a service
    xml = ET.fromstring(client.get("/open311/v2/services.xml").content)
    assert xml.tag == "services"
    assert xml.find("service/service_code") is not None
    definition = client.get("/open311/v2/services/010202.json").json()
    assert definition["attributes"][0]["code"] == "urgency"
    assert [v["key"] for v in definition["attributes"][0]["values"]] == [
        "urgent", "pressing", "normal"]  # fmt: skip
    root = ET.fromstring(client.get("/open311/v2/services/010202.xml").content)
    assert root.tag == "service_definition"
    assert root.findtext("attributes/attribute/values/value/key") == "urgent"
    missing = client.get("/open311/v2/services/999999.xml")
    assert missing.status_code == 404
    error = ET.fromstring(missing.content)
    assert (error.tag, error.findtext("error/code")) == ("errors", "404")
    assert client.get("/open311/v2/services/01.json").json()[0]["code"] == 404
    assert client.get("/open311/v2/services.csv").status_code == 400


def test_post_and_read_back_requests(
    client: TestClient, session: Session, settings: Settings
) -> None:
    city(session)
    key = _key(session, settings, "operator")
    posted = client.post("/open311/v2/requests.json", data=POST | {"api_key": key})
    assert posted.status_code == 200, posted.text
    number = posted.json()[0]["service_request_id"]
    assert number in posted.json()[0]["service_notice"]
    [got] = client.get(f"/open311/v2/requests/{number}.json").json()
    assert (got["status"], got["service_code"], got["agency_responsible"]) == (
        "open", "010202", "福州市鼓楼区城市管理局")  # fmt: skip
    assert got["status_notes"] == "派单 (dispatched)"
    assert "张三丰" not in got["description"]  # public reads carry no personal data
    assert "350102199001011234" not in got["description"]
    assert (got["lat"], got["long"]) == (26.0845, 119.2965)
    assert got["expected_datetime"]
    xml = ET.fromstring(client.get(f"/open311/v2/requests/{number}.xml").content)
    assert xml.findtext("request/service_request_id") == number
    listed = client.get("/open311/v2/requests.json",
                        params={"service_code": "010202,010203", "status": "open"}).json()  # fmt: skip
    assert [r["service_request_id"] for r in listed] == [number]
    assert client.get("/open311/v2/requests.json", params={"status": "closed"}).json() == []
    assert client.get("/open311/v2/requests.json",
                      params={"start_date": "2099-01-01T00:00:00Z"}).json() == []  # fmt: skip
    bad_date = client.get("/open311/v2/requests.json", params={"start_date": "yesterday"})
    assert bad_date.status_code == 400 or bad_date.status_code == 422
    assert "start_date" in bad_date.json()[0]["description"]
    assert client.get(f"/open311/v2/tokens/{number}.json").json() == [
        {"service_request_id": number, "token": number}]  # fmt: skip
    assert client.get("/open311/v2/requests/FZ0.json").status_code == 404

    no_key = client.post("/open311/v2/requests.xml", data=POST)
    assert no_key.status_code == 403
    assert ET.fromstring(no_key.content).findtext("error/code") == "403"
    handler_key = _key(session, settings, "gl.handler")
    assert client.post("/open311/v2/requests.json",
                       data=POST | {"api_key": handler_key}).status_code == 403  # fmt: skip
    for field, value in (("service_code", "999999"), ("attribute[urgency]", "now"),
                         ("description", ""), ("phone", "12")):  # fmt: skip
        refused = client.post(
            "/open311/v2/requests.json", data=POST | {field: value, "api_key": key}
        )
        assert refused.status_code in (400, 404, 422), field
        assert refused.json()[0]["description"], field
    nowhere = {k: v for k, v in POST.items() if k not in ("lat", "long", "address_string")}
    refused = client.post("/open311/v2/requests.json", data=nowhere | {"api_key": key})
    assert "location" in refused.json()[0]["description"]


def test_a_request_with_only_a_point_is_placed_in_its_grid(
    client: TestClient, session: Session, settings: Settings
) -> None:
    city(session)
    assert boundaries.import_boundaries(session, SYSTEM, BOUNDARIES_FILE.read_bytes()).applied
    key = _key(session, settings, "operator")
    pointed = {k: v for k, v in POST.items() if k != "address_string"}
    posted = client.post("/open311/v2/requests.json",
                         data=pointed | {"lat": "26.089", "long": "119.298", "api_key": key})  # fmt: skip
    assert posted.status_code == 200, posted.text
    number = posted.json()[0]["service_request_id"]
    case = cases.get_for_system(session, number)
    assert (case.community_code, case.grid_code) == ("350102001001", "350102001001G02")
    [got] = client.get(f"/open311/v2/requests/{number}.json").json()
    assert got["agency_responsible"] == "福州市鼓楼区城市管理局"


def test_clients_from_the_swagger_and_from_the_wiki(
    client: TestClient, session: Session, settings: Settings
) -> None:
    """The official swagger puts api_key and every field of a POST in the query string; the wiki
    puts them in a form body. Both are taken in, and both get 200 (the swagger's code)."""
    city(session)
    key = _key(session, settings, "operator")
    swagger = client.post("/open311/v2/requests.json", params=POST | {"api_key": key,
                                                                      "jurisdiction_id": "350100"})  # fmt: skip
    assert swagger.status_code == 200, swagger.text
    wiki = client.post("/open311/v2/requests.xml", data=POST | {"api_key": key})
    assert wiki.status_code == 200, wiki.text
    numbers = [swagger.json()[0]["service_request_id"],
               ET.fromstring(wiki.content).findtext("request/service_request_id")]  # fmt: skip
    assert "account_id" not in swagger.json()[0]  # nothing sent as null
    for number in numbers:
        one = client.get(f"/open311/v2/request/{number}.json", params={"jurisdiction_id": "350100"})
        assert one.status_code == 200
        assert one.json()["service_request_id"] == number
        listed = client.get(f"/open311/v2/requests/{number}.json").json()
        assert [r["service_request_id"] for r in listed] == [number]
    # fields without a value are left out, never sent as "" (strict date and URL parsers)
    for row in client.get("/open311/v2/requests.json").json():
        assert all(v != "" for k, v in row.items() if k.endswith("_datetime") or k == "media_url")
        assert "media_url" not in row  # no photo was sent
    root = ET.fromstring(client.get("/open311/v2/requests.xml").content)
    assert root.find("request/media_url") is None


def test_errors_are_400_in_open311_format_and_405_says_allow(
    client: TestClient, session: Session, settings: Settings
) -> None:
    city(session)
    key = _key(session, settings, "operator")
    before = len(client.get("/open311/v2/requests.json").json())
    for bad in ({"service_code": ""}, {"lat": "north", "address_string": ""},
                {"description": "x"}, {"attribute[urgency]": "now"}):  # fmt: skip
        refused = client.post("/open311/v2/requests.xml", data=POST | bad | {"api_key": key})
        assert refused.status_code == 400, (bad, refused.text)
        assert ET.fromstring(refused.content).findtext("error/code") == "400"
    dates = client.get("/open311/v2/requests.json", params={"start_date": "yesterday"})
    assert dates.status_code == 400
    assert dates.json()[0]["code"] == 400
    wrong = client.delete("/open311/v2/requests.json")
    assert wrong.status_code == 405
    assert "GET" in wrong.headers["allow"]
    assert "POST" in wrong.headers["allow"]
    assert client.put("/open311/v2/services.xml").headers["allow"] == "GET"
    elsewhere = client.get("/open311/v2/services.json", params={"jurisdiction_id": "110000"})
    assert elsewhere.status_code == 404
    assert "jurisdiction_id" in elsewhere.json()[0]["description"]
    other = client.post("/open311/v2/requests.json",
                        data=POST | {"api_key": key, "jurisdiction_id": "110000"})  # fmt: skip
    assert other.status_code == 404
    json_body = client.post("/open311/v2/requests.json", json=POST | {"api_key": key})
    assert json_body.status_code == 415
    assert len(client.get("/open311/v2/requests.json").json()) == before  # nothing taken in


def test_media_url_is_an_expiring_public_link_to_the_preview(
    client: TestClient, session: Session, settings: Settings
) -> None:
    from PIL import Image

    from tests.core.files.factories import photo
    from tests.core.identity.factories import sign_in
    from tests.hub.cases.test_attachments import ROAD

    city(session)
    headers = {"X-CSRF-Token": sign_in(client, "operator")}
    shot = client.post("/api/v1/hub/files", headers=headers,
                       files={"file": ("井盖.jpg", photo(lon=119.3, lat=26.08), "image/jpeg")}).json()  # fmt: skip
    taken = client.post("/api/v1/hub/cases", headers=headers,
                        json=ROAD | {"attachments": [{"file_id": shot["id"]}]})  # fmt: skip
    number = taken.json()["case"]["number"]
    client.cookies.clear()  # from here on, nobody signed in
    row = client.get(f"/open311/v2/request/{number}.json").json()
    link = row["media_url"]
    assert link.startswith(f"http://testserver/open311/v2/media/{number}/{shot['id']}?expires=")
    got = client.get(link)
    assert got.status_code == 200
    assert got.headers["content-type"] in ("image/jpeg", "image/png")
    import io

    preview = Image.open(io.BytesIO(got.content))
    assert max(preview.size) <= 320
    assert not preview.getexif()  # no place, no time
    assert got.content != photo(lon=119.3, lat=26.08)
    # a link altered, of another case, or expired opens nothing
    tampered = link.replace("signature=", "signature=0")
    assert client.get(tampered).status_code == 404
    assert client.get(link.split("signature=")[0] + "signature=签名").status_code == 404
    expires = int(link.split("expires=")[1].split("&")[0])
    from citybase.services.hotline import service as hotline

    old = expires - 10**6
    stale = f"/open311/v2/media/{number}/{shot['id']}?expires={old}&signature=" + (
        hotline.media_signature(settings, number, shot["id"], old)
    )
    assert client.get(stale).status_code == 404
    extended = client.get("/open311/v2/requests.json",
                          params={"service_request_id": number, "extensions": "true"}).json()[0]  # fmt: skip
    assert (
        extended["extended_attributes"]["detailed_status"] == row["status_notes"].split("(")[1][:-1]
    )
    assert extended["extended_attributes"]["media_urls"] == [link]
    xml = ET.fromstring(client.get(f"/open311/v2/requests/{number}.xml",
                                   params={"extensions": "true"}).content)  # fmt: skip
    assert xml.findtext("request/extended_attributes/detailed_status")
    assert xml.findtext("request/extended_attributes/media_urls/media_url") == link
    assert "extended_attributes" not in client.get(f"/open311/v2/request/{number}.json").json()


# the official swagger, shipped as test data with its licence (CC BY 3.0, see the folder's README);
# CITYBASE_OPEN311_SWAGGER may point at another copy
SWAGGER = os.environ.get("CITYBASE_OPEN311_SWAGGER") or str(
    Path(__file__).parent / "open311" / "georeport_v2-1.yaml"
)


def test_clients_generated_from_the_official_swagger(fresh_settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """schemathesis, from the official GeoReport v2 swagger (shipped beside this file), as a
    swagger client sends its calls (JSON and XML; api_key in the
    query string): no server error, every answer within the swagger's schemas and content
    types, no invalid input accepted. Its status codes are checked by hand there: the swagger
    documents no 404 and no 400 on POST, which the wiki does."""
    import shutil
    import socket
    import subprocess
    import sys
    import threading
    import time

    import uvicorn

    from citybase.app import create_app
    from citybase.core.db.engine import Database

    command = shutil.which("st", path=str(Path(sys.executable).parent))
    if command is None:
        pytest.skip("schemathesis's st command is not installed beside this Python")
    db = Database(fresh_settings.resolved_database_url)
    with db.session_scope() as session:
        city(session)
        key = _key(session, fresh_settings, "operator")
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
    try:
        for fmt in ("json", "xml"):
            (tmp_path / "schemathesis.toml").write_text(
                '[auth.openapi.api_key]\napi_key = "${OPEN311_KEY}"\n\n[parameters]\n'
                f'"path.response_format" = "{fmt}"\n"query.jurisdiction_id" = "350100"\n'
                '"path.service_code" = "010202"\n'
            )
            run = subprocess.run(
                [command, "run", SWAGGER, "--url", f"http://127.0.0.1:{port}/open311/v2",
                 "--max-examples", "20", "--seed", "1", "--checks",
                 "not_a_server_error,response_schema_conformance,content_type_conformance,"
                 "negative_data_rejection"],
                cwd=tmp_path, env={**os.environ, "OPEN311_KEY": key}, capture_output=True,
                text=True, timeout=300,
            )  # fmt: skip
            assert run.returncode == 0, run.stdout[-3000:]
    finally:
        server.should_exit = True
        thread.join(5)
        db.dispose()


def test_a_one_thing_matter_is_not_a_public_request(
    client: TestClient, session: Session, settings: Settings
) -> None:
    """A one-thing matter runs as a case of the hub (source ``work``) but is a person's own
    business with a unit: Open311's public reads neither list it nor show it by number."""
    from citybase.hub.cases.models import Case

    city(session)
    key = _key(session, settings, "operator")
    posted = client.post("/open311/v2/requests.json", data=POST | {"api_key": key})
    number = posted.json()[0]["service_request_id"]
    listed = client.get("/open311/v2/requests.json").json()
    assert [r["service_request_id"] for r in listed] == [number]
    case = session.query(Case).filter(Case.number == number).one()
    case.source = "work"  # as the one-thing service opens its matters
    session.commit()
    assert client.get("/open311/v2/requests.json").json() == []
    assert client.get(f"/open311/v2/requests/{number}.json").status_code == 404
