"""Releases through HTTP: access declared per route, refusals in the API's error format, the
file only for the units it was published to, the console page in Chinese (and English)."""

from __future__ import annotations

import json
import re

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from citybase.data.sandbox.models import SandboxRelease
from tests.core.identity.factories import sign_in
from tests.data.sandbox.release_factories import release, release_city


def _spec(code: str, **overrides: object) -> dict:  # type: ignore[type-arg]
    return release(code, **overrides).model_dump(mode="json")


def _releases(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(SandboxRelease)) or 0


def test_anonymous_callers_get_nothing(client: TestClient, session: Session) -> None:
    rc = release_city(session)
    assert client.get("/api/v1/sandbox/releases").status_code == 401
    assert client.post("/api/v1/sandbox/releases", json=_spec(rc.code)).status_code == 401
    assert client.get("/api/v1/sandbox/releases/1/file").status_code == 401
    page = client.get("/console/sandbox/releases", follow_redirects=False)
    assert page.status_code in (302, 303, 401)
    assert _releases(session) == 0


def test_prepare_review_publish_and_download(client: TestClient, session: Session) -> None:
    rc = release_city(session)
    client.headers["X-CSRF-Token"] = sign_in(client, "urbansteward")
    made = client.post("/api/v1/sandbox/releases", json=_spec(rc.code))
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["status"] == "prepared"
    assert body["report"]["achieved_k"] >= 5
    rid = body["id"]
    own = client.post(f"/api/v1/sandbox/releases/{rid}/review", json={"approve": True})
    assert own.status_code == 403
    assert own.json()["error"]["details"]["rule"] == "release.own_review"
    client.headers["X-CSRF-Token"] = sign_in(client, "urbansteward2")
    approved = client.post(f"/api/v1/sandbox/releases/{rid}/review",
                           json={"approve": True, "note": "同意"})  # fmt: skip
    assert approved.status_code == 200, approved.text
    published = client.post(f"/api/v1/sandbox/releases/{rid}/publish")
    assert published.json()["status"] == "published"
    # a unit it was not published to gets nothing, not even that it exists
    client.headers["X-CSRF-Token"] = sign_in(client, "glreader")
    assert client.get(f"/api/v1/sandbox/releases/{rid}/file").status_code == 404
    assert client.get(f"/api/v1/sandbox/releases/{rid}").status_code == 404
    assert client.get("/api/v1/sandbox/releases").json() == []
    client.headers["X-CSRF-Token"] = sign_in(client, "healthuser")
    file = client.get(f"/api/v1/sandbox/releases/{rid}/file")
    assert file.status_code == 200
    assert file.headers["content-type"].startswith("text/csv")
    lines = file.content.decode("utf-8-sig").strip().splitlines()
    assert lines[0] == "公民身份号码,出生日期,性别,所在街道,违法类型,罚款金额"
    assert len(lines) - 1 == body["report"]["rows_released"]
    assert [r["id"] for r in client.get("/api/v1/sandbox/releases").json()] == [rid]


def test_refusals_answer_in_the_error_format(client: TestClient, session: Session) -> None:
    rc = release_city(session)
    client.headers["X-CSRF-Token"] = sign_in(client, "urbansteward")
    bad = _spec(rc.code)
    bad["quasi_identifiers"]["出生日期"]["levels"] = ["year", "month"]
    answer = client.post("/api/v1/sandbox/releases", json=bad)
    assert answer.status_code == 422
    assert answer.json()["error"]["field"] == "quasi_identifiers.出生日期.levels"
    short = client.post("/api/v1/sandbox/releases", json=_spec(rc.code, k=100))
    assert short.status_code == 422
    error = short.json()["error"]
    assert error["details"]["rule"] == "release.k_not_reached"
    assert client.get(f"/api/v1/sandbox/releases/{error['details']['release']}").json()[
        "status"] == "refused"  # fmt: skip
    # another unit's steward is refused and nothing is kept
    client.headers["X-CSRF-Token"] = sign_in(client, "glsteward")
    before = _releases(session)
    assert client.post("/api/v1/sandbox/releases", json=_spec(rc.code)).status_code == 403
    assert _releases(session) == before
    # a consumer may not prepare at all
    client.headers["X-CSRF-Token"] = sign_in(client, "healthuser")
    assert client.post("/api/v1/sandbox/releases", json=_spec(rc.code)).status_code == 403


def _form_token(html: str) -> str:
    match = re.search(r'name="form_token" value="([^"]+)"', html)
    assert match
    return match.group(1)


def test_the_console_page_prepares_and_shows_the_report(
    client: TestClient, session: Session
) -> None:
    rc = release_city(session)
    csrf = sign_in(client, "urbansteward")
    page = client.get("/console/sandbox/releases")
    assert page.status_code == 200
    assert "去标识化发布" in page.text
    sent = client.post("/console/sandbox/releases", data={
        "csrf_token": csrf, "form_token": _form_token(page.text),
        "spec": json.dumps(_spec(rc.code), ensure_ascii=False)}, follow_redirects=False)  # fmt: skip
    assert sent.status_code == 303, sent.text
    shown = client.get(sent.headers["location"])
    for words in ("去标识化报告", "抑制行数", "泛化层级", "信息损失", "重标识风险", "待审核"):
        assert words in shown.text, words
    bad = client.post("/console/sandbox/releases", data={
        "csrf_token": csrf, "form_token": _form_token(page.text) + "x", "spec": "{"},
        follow_redirects=False)  # fmt: skip
    assert bad.status_code == 303
    assert "error=" in bad.headers["location"]
    # a release short of its k lands on its page, the reason in Chinese
    short = client.post("/console/sandbox/releases", data={
        "csrf_token": csrf, "form_token": _form_token(client.get("/console/sandbox/releases").text),
        "spec": json.dumps(_spec(rc.code, k=100), ensure_ascii=False)}, follow_redirects=False)  # fmt: skip
    refused = client.get(short.headers["location"])
    assert "未达标" in refused.text
    assert "任何泛化组合都达不到 k=100" in refused.text
    client.cookies.set("citybase_lang", "en")
    english = client.get(sent.headers["location"])
    assert "De-identification report" in english.text
    assert "Re-identification risk" in english.text
