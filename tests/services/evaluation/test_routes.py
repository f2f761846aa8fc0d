from __future__ import annotations

import io

import openpyxl
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from citybase.services.evaluation.models import Rating
from tests.core.identity.factories import sign_in
from tests.services.evaluation.factories import PHONE, city, closed, taken


def _headers(client: TestClient, user: str) -> dict[str, str]:
    client.cookies.clear()
    return {"X-CSRF-Token": sign_in(client, user)}


def _rating(number: str, **more: object) -> dict[str, object]:
    return {"kind": "case", "subject_id": number, "phone": PHONE, "grade": "satisfied"} | more


def test_a_citizen_rates_through_the_api_with_errors_in_json(
    client: TestClient, session: Session
) -> None:
    city(session)
    number, open_one = closed(session), taken(session, 1)
    api = "/api/v1/evaluation/ratings"
    unknown = client.post(api, json=_rating(number, grade="great"))
    assert unknown.status_code == 422
    assert unknown.json()["error"]["field"].endswith("grade")
    missing = client.post(api, json=_rating(number, grade="very_unsatisfied"))
    assert (missing.status_code, missing.json()["error"]["field"]) == (422, "reasons")
    stranger = client.post(api, json=_rating(number, phone="13900000000"))
    assert (stranger.status_code, stranger.json()["error"]["field"]) == (403, "phone")
    early = client.post(api, json=_rating(open_one))
    assert early.status_code == 409
    assert "not yet handled" in early.json()["error"]["message"]
    made = client.post(api, json=_rating(number, grade="unsatisfied", reasons=["slow"]))
    assert made.status_code == 201, made.text
    assert made.json()["rectify_state"] == "pending"
    twice = client.post(api, json=_rating(number))
    assert twice.status_code == 409
    assert "already rated" in twice.json()["error"]["message"]

    rating_id = made.json()["id"]
    handler = _headers(client, "gl.handler")
    mine = client.get(api).json()
    assert [r["id"] for r in mine["items"]] == [rating_id]
    answered = client.post(f"{api}/{rating_id}/answer", json={"answer": "已整改"}, headers=handler)
    assert answered.json()["rectify_state"] == "answered"
    op = _headers(client, "operator")
    revisited = client.post(f"{api}/{rating_id}/revisit", json={"accepted": True}, headers=op)
    assert revisited.json()["rectify_state"] == "accepted"
    figures = client.get("/api/v1/evaluation/figures", params={"by": "channel"}).json()
    assert figures[0]["key"] == "hotline"
    assert figures[0]["grades"]["unsatisfied"] == 1
    assert client.get("/api/v1/evaluation/figures", params={"by": "x"}).status_code == 422
    book = client.get(f"{api}.xlsx")
    assert book.status_code == 200
    sheets = openpyxl.load_workbook(io.BytesIO(book.content)).sheetnames
    assert sheets == ["评价明细", "按单位", "按类型", "按渠道"]


def test_the_portal_page_rates_and_speaks_chinese(
    client: TestClient, session: Session, form_token
) -> None:  # type: ignore[no-untyped-def]
    city(session)
    number = closed(session)
    followed = client.post("/hotline/track", data={"number": number, "phone": PHONE})
    assert f"/evaluation?kind=case&amp;subject={number}" in followed.text  # closed: rate it
    page = client.get("/evaluation", params={"kind": "case", "subject": number})
    assert page.status_code == 200
    assert "非常不满意" in page.text
    assert "checked" not in page.text  # no grade is chosen for the citizen
    # one page sent wrong three times, then right: each refusal gives its token back
    form = {"kind": "case", "subject_id": number, "phone": PHONE, "form_token": form_token()}
    none = client.post("/evaluation", data=form)
    assert none.status_code == 422
    assert "请选择五个评价等级之一" in none.text
    bad = client.post("/evaluation", data=form | {"grade": "very_unsatisfied"})
    assert bad.status_code == 422
    assert "差评须至少选择一项原因" in bad.text
    wrong = client.post("/evaluation", data=form | {"phone": "13900000000", "grade": "satisfied"})
    assert wrong.status_code == 403
    assert "仅申请人本人可以评价" in wrong.text
    rating = form | {"grade": "very_unsatisfied", "reasons": ["attitude", "slow"]}
    done = client.post("/evaluation", data=rating)
    assert done.status_code == 200
    assert "感谢您的评价" in done.text
    assert "整改反馈期限" in done.text
    twice = client.post("/evaluation", data=rating, headers={"Accept": "text/html"})  # taken once
    assert twice.status_code == 409
    assert "该表单已提交过，只受理一次" in twice.text
    assert session.scalar(select(func.count()).select_from(Rating)) == 1
    again = client.post(
        "/evaluation", data=form | {"grade": "satisfied", "form_token": form_token()}
    )
    assert again.status_code == 409
    assert "已评价过" in again.text


def test_the_console_shows_figures_and_answers(
    client: TestClient, session: Session, form_token
) -> None:  # type: ignore[no-untyped-def]
    city(session)
    number = closed(session)
    client.post("/api/v1/evaluation/ratings",
                json=_rating(number, grade="unsatisfied", reasons=["result"]))  # fmt: skip
    token = sign_in(client, "gl.handler")
    page = client.get("/console/evaluation")
    assert page.status_code == 200
    assert "<svg" in page.text
    assert "好评率" in page.text
    [rating_id] = [r["id"] for r in client.get("/api/v1/evaluation/ratings").json()["items"]]
    detail = client.get(f"/console/evaluation/{rating_id}")
    assert "整改反馈" in detail.text
    once = form_token()
    short = client.post(f"/console/evaluation/{rating_id}/answer",
                        data={"answer": "", "csrf_token": token, "form_token": once},
                        follow_redirects=True)  # fmt: skip
    assert "error" in str(short.url)
    answer = {"answer": "已重新上门处理", "csrf_token": token, "form_token": once}
    sent = client.post(f"/console/evaluation/{rating_id}/answer", data=answer,
                       follow_redirects=True)  # fmt: skip
    assert "已保存" in sent.text
    assert "已反馈待回访" in sent.text
    # sent again (a double click): the page of the first answer, no second answer or refusal
    again = client.post(f"/console/evaluation/{rating_id}/answer", data=answer,
                        follow_redirects=False)  # fmt: skip
    assert again.headers["location"].endswith("?saved=1")
