"""Path traversal in every route that takes a path or a file's name: a case's files
(``/api/v1/hub/cases/{number}/attachments/{file_id}``), the names uploads are kept under, the
app's static files, and the open-data downloads. ``../``, its encodings, absolute paths and NUL
bytes never reach a file the route does not mean to serve, and never write one."""

from __future__ import annotations

import re
from email.message import EmailMessage
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from citybase.core.files.models import StoredFile
from citybase.core.settings import Settings
from tests.core.files.factories import photo
from tests.security.people import act_as, count, demo_city

TRAVERSALS = [
    "../../../../etc/passwd", "..%2f..%2f..%2f..%2fetc%2fpasswd", "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "%252e%252e%252fetc%252fpasswd", "..\\..\\..\\etc\\passwd", "/etc/passwd", "%2fetc%2fpasswd",
    "....//....//etc/passwd", "..%c0%afetc%c0%afpasswd", "passwd%00.jpg", "%00", "%2e%2e",
    "file:///etc/passwd", "C:\\Windows\\win.ini",
]  # fmt: skip
SECRETS = [b"root:", b"SQLite format", b"[extensions]", b"from __future__", b"import ", b"DATABASE"]
ROAD = {
    "reporter_name": "林小明", "reporter_phone": "13805911234",
    "text": "鼓东路口的井盖缺失了，晚上很危险", "address": "鼓楼区鼓东街道虎节社区",
    "category_code": "010202",
}  # fmt: skip


def _nothing_served(body: bytes) -> None:
    for secret in SECRETS:
        assert secret not in body, secret


@pytest.fixture
def case(client: TestClient, session: Session) -> dict[str, str]:
    demo_city(session)
    op = act_as(client, "operator")
    up = client.post("/api/v1/hub/files", files={"file": ("井盖.jpg", photo(), "image/jpeg")},
                     headers=op)  # fmt: skip
    taken = client.post("/api/v1/hub/cases", headers=op,
                        json=ROAD | {"attachments": [{"file_id": up.json()["id"]}]})  # fmt: skip
    assert taken.status_code == 201, taken.text
    return {"number": taken.json()["case"]["number"], "file": up.json()["id"]}


def test_a_case_file_is_named_by_its_id_only(client: TestClient, case: dict[str, str]) -> None:
    number = case["number"]
    act_as(client, "supervisor")  # sees every case and file
    for path in [*TRAVERSALS, f"{case['file']}%2f..%2f{case['file']}", f"{case['file']}%00",
                 f"../{case['file']}", case["file"].upper()]:  # fmt: skip
        for preview in ("false", "true"):
            r = client.get(f"/api/v1/hub/cases/{number}/attachments/{path}",
                           params={"preview": preview})  # fmt: skip
            assert r.status_code in (404, 422), (path, r.status_code)
            _nothing_served(r.content)
        # and through the case number, whatever it says
        r = client.get(f"/api/v1/hub/cases/{path}/attachments/{case['file']}")
        assert r.status_code in (404, 422), (path, r.status_code)
        _nothing_served(r.content)
    ok = client.get(f"/api/v1/hub/cases/{number}/attachments/{case['file']}")
    assert (ok.status_code, ok.content) == (200, photo())


@pytest.mark.parametrize("name", ["../../../../tmp/evil.jpg", "..\\..\\evil.jpg", "/etc/cron.d/x.jpg",
                                  "C:\\evil.jpg", "evil\x00.jpg", "a/../../b.jpg",
                                  '"; filename=evil.html\r\nX-Injected: 1; x.jpg'])  # fmt: skip
def test_an_upload_keeps_only_the_last_part_of_its_name(
    client: TestClient, session: Session, settings: Settings, tmp_path: Path, name: str
) -> None:
    demo_city(session)
    op = act_as(client, "operator")
    up = client.post("/api/v1/hub/files", files={"file": (name, photo(), "image/jpeg")},
                     headers=op)  # fmt: skip
    assert up.status_code == 201, up.text
    kept = up.json()["name"]
    assert "/" not in kept
    assert "\\" not in kept
    assert "\x00" not in kept
    assert not re.search(r"[\r\n]", kept)
    assert not kept.startswith(".")
    # the bytes went only where the store keeps bytes: under their own digest
    files = settings.home / "files"
    written = [p for p in files.rglob("*") if p.is_file()] if files.exists() else []
    assert all(re.fullmatch(r"[0-9a-f]{64}(\.preview)?", p.name) for p in written), written
    assert not Path("/tmp/evil.jpg").exists()  # noqa: S108 -- where the name pointed
    # served back under a header that is one header, however the name was spelt
    taken = client.post("/api/v1/hub/cases", headers=op,
                        json=ROAD | {"attachments": [{"file_id": up.json()["id"]}]})  # fmt: skip
    number = taken.json()["case"]["number"]
    got = client.get(f"/api/v1/hub/cases/{number}/attachments/{up.json()['id']}")
    assert got.status_code == 200
    assert "x-injected" not in got.headers
    header = EmailMessage()
    header["Content-Disposition"] = got.headers["content-disposition"]
    assert header.get_content_disposition() == "inline"
    params = [k for k, _ in (header.get_params(header="content-disposition") or [])[1:]]
    assert params == ["filename"]  # (its RFC 2231 twice, filename*, is read into it)
    assert header.get_filename() == kept
    assert got.headers["content-security-policy"] == "sandbox"


def test_static_files_stay_in_their_folders(client: TestClient) -> None:
    assert client.get("/static/core/citybase.css").status_code == 200
    for mount in ("/static/core", "/static/swagger"):
        for path in [*TRAVERSALS, "../../app.py", "..%2f..%2fapp.py", "%2e%2e/%2e%2e/app.py",
                                  "../settings.py", "..%5c..%5capp.py", "citybase.css%00.py",
                                  "/../../core/settings.py"]:  # fmt: skip
            r = client.get(f"{mount}/{path}")
            assert r.status_code in (400, 404, 405), (mount, path, r.status_code)
            _nothing_served(r.content)


def test_open_data_downloads_take_no_path(client: TestClient, session: Session) -> None:
    from tests.data.catalog.factories import catalog_people
    from tests.data.opendata.factories import open_datasets

    open_datasets(session, catalog_people(session))
    client.cookies.clear()
    before = count(session, StoredFile)
    for path in TRAVERSALS:
        for fmt in ("csv", "json", "xlsx", "csv%2f..%2f..%2fapp.py"):
            r = client.get(f"/open/{path}/download.{fmt}")
            assert r.status_code in (400, 404, 422), (path, fmt, r.status_code)
            _nothing_served(r.content)
    assert count(session, StoredFile) == before
