from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from citybase.core.ledger import service as ledger
from citybase.core.ledger.schemas import LedgerFilter
from citybase.core.orgs import boundaries
from citybase.demo.seed import BOUNDARIES_FILE
from citybase.hub.cases import service
from tests.core.files.factories import photo
from tests.core.identity.factories import sign_in
from tests.hub.cases.factories import SYSTEM, city

ROAD = {
    "reporter_name": "林小明", "reporter_phone": "13805911234",
    "text": "鼓东路口的井盖缺失了，晚上很危险", "address": "鼓楼区鼓东街道虎节社区",
    "category_code": "010202",
}  # fmt: skip
PDF = b"%PDF-1.7\n%%EOF\n"


def _as(client: TestClient, user: str) -> dict[str, str]:
    client.cookies.clear()
    return {"X-CSRF-Token": sign_in(client, user)}


def test_files_go_with_a_case_and_only_its_readers_see_them(
    client: TestClient, session: Session
) -> None:
    city(session)
    op = _as(client, "operator")
    up = client.post("/api/v1/hub/files", files={"file": ("井盖.jpg", photo(), "image/jpeg")},
                     headers=op)  # fmt: skip
    assert up.status_code == 201, up.text
    shot = up.json()
    assert (shot["media_type"], shot["width"]) == ("image/jpeg", 800)
    lie = client.post("/api/v1/hub/files", files={"file": ("x.jpg", b"MZ\x90\x00", "image/jpeg")},
                      headers=op)  # fmt: skip
    assert (lie.status_code, lie.json()["error"]["field"]) == (422, "file")
    ghost = client.post("/api/v1/hub/cases", headers=op,
                        json=ROAD | {"attachments": [{"file_id": "f" * 32}]})  # fmt: skip
    assert (ghost.status_code, ghost.json()["error"]["field"]) == (422, "attachments")
    bad_url = client.post("/api/v1/hub/cases", headers=op, json=ROAD | {
        "attachments": [{"name": "x", "url": "javascript:alert(1)"}]})  # fmt: skip
    assert bad_url.status_code == 422
    taken = client.post("/api/v1/hub/cases", headers=op, json=ROAD | {"attachments": [
        {"file_id": shot["id"], "name": "renamed.exe"},
        {"name": "监控录像", "url": "https://video.example/cam/12"}]})  # fmt: skip
    assert taken.status_code == 201, taken.text
    case = taken.json()["case"]
    number = case["number"]
    first = case["attachments"][0]
    assert (first["name"], first["media_type"], first["size"]) == ("井盖.jpg", "image/jpeg",
                                                                   shot["size"])  # fmt: skip
    got = client.get(f"/api/v1/hub/cases/{number}/attachments/{shot['id']}")
    assert (got.status_code, got.headers["content-type"]) == (200, "image/jpeg")
    assert got.content == photo()
    small = client.get(f"/api/v1/hub/cases/{number}/attachments/{shot['id']}",
                       params={"preview": "true"})  # fmt: skip
    assert small.status_code == 200
    assert len(small.content) < len(got.content)

    handler = _as(client, "gl.handler")  # the lead unit adds a photo of the work done
    client.post(f"/api/v1/hub/cases/{number}/actions/sign", headers=handler)
    done = client.post(f"/api/v1/hub/cases/{number}/attachments", headers=handler,
                       files={"file": ("修复后.png", photo(kind="PNG"), "image/png")},
                       data={"note": "已补装井盖"})  # fmt: skip
    assert done.status_code == 201, done.text
    detail = done.json()
    assert [a["name"] for a in detail["attachments"]] == ["井盖.jpg", "监控录像", "修复后.png"]
    assert detail["state"] == "signed"  # a file is no step of the workflow
    [step] = [s for s in detail["steps"] if s["action"] == "attach"]
    assert (step["note"], step["unit"]) == ("已补装井盖", "gl.urban")
    [entry], _ = ledger.find_entries(session, LedgerFilter(action="hub.case.attach"))
    assert (entry.object_id, entry.details["name"]) == (number, "修复后.png")

    _as(client, "tj.handler")  # another district's unit sees neither the case nor its files
    assert client.get(f"/api/v1/hub/cases/{number}/attachments/{shot['id']}").status_code == 404
    other = client.post(f"/api/v1/hub/cases/{number}/attachments", headers=_as(client, "tj.handler"),
                        files={"file": ("a.pdf", PDF, "application/pdf")})  # fmt: skip
    assert other.status_code == 404
    _as(client, "super")
    assert client.get(f"/api/v1/hub/cases/{number}/attachments/{'0' * 32}").status_code == 404


def test_a_photo_that_says_where_places_the_case(client: TestClient, session: Session) -> None:
    city(session)
    assert boundaries.import_boundaries(session, SYSTEM, BOUNDARIES_FILE.read_bytes()).applied
    op = _as(client, "operator")
    shot = client.post("/api/v1/hub/files", headers=op, files={
        "file": ("p.jpg", photo(lon=119.298, lat=26.089), "image/jpeg")}).json()  # fmt: skip
    nowhere = {k: v for k, v in ROAD.items() if k != "address"}
    taken = client.post("/api/v1/hub/cases", headers=op,
                        json=nowhere | {"attachments": [{"file_id": shot["id"]}]})  # fmt: skip
    assert taken.status_code == 201, taken.text
    case = taken.json()["case"]
    assert (case["grid_code"], case["lon"], case["lat"]) == ("350102001001G02", 119.298, 26.089)
    steps = service.steps_for_system(session, case["number"])
    assert steps[0].details["placed_by_photo"] == shot["id"]


def test_a_closed_case_takes_no_more_files(client: TestClient, session: Session) -> None:
    city(session)
    op = _as(client, "operator")
    number = client.post("/api/v1/hub/cases", headers=op, json=ROAD).json()["case"]["number"]
    _as(client, "gl.handler")
    h = _as(client, "gl.handler")
    client.post(f"/api/v1/hub/cases/{number}/actions/sign", headers=h)
    client.post(f"/api/v1/hub/cases/{number}/actions/reply", headers=h, json={"reply": "已修复"})
    op = _as(client, "operator")
    client.post(f"/api/v1/hub/cases/{number}/actions/follow_up", headers=op,
                json={"satisfaction": "satisfied"})  # fmt: skip
    closed = client.post(f"/api/v1/hub/cases/{number}/actions/close", headers=op, json={})
    assert closed.json()["state"] == "closed", closed.text
    assert closed.json()["may_attach"] is False
    late = client.post(f"/api/v1/hub/cases/{number}/attachments", headers=op,
                       files={"file": ("a.pdf", PDF, "application/pdf")})  # fmt: skip
    assert (late.status_code, late.json()["error"]["field"]) == (409, "file")


def test_the_case_page_shows_its_files_and_takes_more(
    client: TestClient, session: Session, form_token
) -> None:  # type: ignore[no-untyped-def]
    city(session)
    op = _as(client, "operator")
    number = client.post("/api/v1/hub/cases", headers=op, json=ROAD).json()["case"]["number"]
    page = client.get(f"/console/hub/cases/{number}").text
    assert "上传附件" in page
    token = op["X-CSRF-Token"]
    sent = client.post(f"/console/hub/cases/{number}/attach", follow_redirects=False,
                       data={"csrf_token": token, "form_token": form_token(), "note": "现场照片"},
                       files={"file": ("现场.jpg", photo(), "image/jpeg")})  # fmt: skip
    assert sent.status_code == 303
    assert "saved=1" in sent.headers["location"]
    page = client.get(f"/console/hub/cases/{number}").text
    [item] = service.get_for_system(session, number).attachments
    assert f"/api/v1/hub/cases/{number}/attachments/{item.file_id}?preview=true" in page
    assert "现场.jpg" in page
    assert "补充附件" in page  # the step in the history
    shown = client.get(f"/api/v1/hub/cases/{number}/attachments/{item.file_id}")  # signed in
    assert shown.headers["content-type"] == "image/jpeg"
    refused = client.post(f"/console/hub/cases/{number}/attach", follow_redirects=False,
                          data={"csrf_token": token, "form_token": form_token()},
                          files={"file": ("a.txt", b"just text", "text/plain")})  # fmt: skip
    assert "error=" in refused.headers["location"]
    assert len(service.get_for_system(session, number).attachments) == 1
