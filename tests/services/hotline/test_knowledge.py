from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from citybase.core.errors import InvalidInput
from citybase.demo.cases import KNOWLEDGE_FILE
from citybase.hub.cases import service as cases
from citybase.services.hotline import service
from citybase.services.hotline.schemas import AnswerIn
from tests.core.identity.factories import sign_in
from tests.hub.cases.factories import SYSTEM, city

QUESTION = {
    "reporter_phone": "13805911234", "text": "请问社保卡丢了要怎么补办？", "address": "鼓楼区",
    "region_code": "", "category_code": "", "urgency": "normal", "source": "hotline",
    "channel": "phone",
}  # fmt: skip


def test_search_finds_the_answer_that_fits(session: Session) -> None:
    city(session)
    assert service.import_answers(session, SYSTEM, KNOWLEDGE_FILE.read_text("utf-8")) == 10
    assert service.import_answers(session, SYSTEM, KNOWLEDGE_FILE.read_text("utf-8")) == 10
    assert len(service.search_answers(session, "", limit=50)) == 10  # matched by title
    hits = service.search_answers(session, "我的社保卡丢失了怎么办")
    assert hits[0].answer.title == "社保卡补办"
    assert service.search_answers(session, "孩子上小学划片")[0].answer.title == "学区划片查询"
    assert service.search_answers(session, "火星天气怎么样") == []
    assert [h.answer.title for h in service.search_answers(session, "", "0703")] == ["异地就医备案"]
    with pytest.raises(InvalidInput, match="category"):
        service.put_answer(session, SYSTEM, AnswerIn(title="x1", answer="y1", category_code="99"))
    with pytest.raises(InvalidInput, match="answer 1: title"):
        service.import_answers(session, SYSTEM, "answers:\n  - {title: x}\n")


def test_the_desk_answers_on_the_spot(client: TestClient, session: Session, form_token) -> None:  # type: ignore[no-untyped-def]
    city(session)
    service.import_answers(session, SYSTEM, KNOWLEDGE_FILE.read_text("utf-8"))
    token = sign_in(client, "operator")
    checked = client.post(
        "/console/hotline/desk", data=QUESTION | {"do": "check", "csrf_token": token}
    )
    assert "社保卡补办" in checked.text
    entry = service.search_answers(session, QUESTION["text"])[0].answer
    closed = client.post("/console/hotline/desk", follow_redirects=False,
                         data=QUESTION | {"do": f"answer:{entry.id}", "csrf_token": token, "form_token": form_token()})  # fmt: skip
    assert closed.status_code == 303
    number = closed.headers["location"].split("/")[-1].split("?")[0]
    case = cases.get_for_system(session, number)
    assert (case.state.value, case.closed_how, case.category_code) == ("closed", "answered", "0502")
    assert case.reply == entry.answer
    assert service.get_answer(session, entry.id).uses == 1
    bad = client.post(
        "/console/hotline/desk",
        data=QUESTION | {"do": "answer:x", "csrf_token": token, "form_token": form_token()},
    )
    assert bad.status_code == 422

    assert client.get("/api/v1/hotline/knowledge", params={"q": "医保 异地"}).json()[0][
        "answer"]["title"] == "异地就医备案"  # fmt: skip
    assert client.post("/api/v1/hotline/knowledge", json={"title": "a1", "answer": "b1"},
                       headers={"X-CSRF-Token": token}).status_code == 403  # fmt: skip
    page = client.get("/console/hotline/knowledge?q=公积金")
    assert "公积金提取" in page.text
    assert "新增标准答复" not in page.text

    client.cookies.clear()
    token = sign_in(client, "super")
    made = client.post("/console/hotline/knowledge", follow_redirects=False, data={
        "title": "电动车上牌", "answer": "携带购车发票、合格证和身份证到登记点办理。",
        "keywords": "电动车, 上牌", "active": "on", "csrf_token": token, "form_token": form_token()})  # fmt: skip
    assert made.status_code == 303
    assert service.search_answers(session, "电动车怎么上牌")[0].answer.keywords == [
        "电动车",
        "上牌",
    ]
    answer_id = made.headers["location"].split("/")[-1].split("?")[0]
    retired = client.post(f"/console/hotline/knowledge/{answer_id}", follow_redirects=False,
                          data={"title": "电动车上牌", "answer": "同上。", "csrf_token": token,
                                "form_token": form_token()})  # fmt: skip
    assert retired.status_code == 303
    assert service.search_answers(session, "电动车怎么上牌") == []  # no longer active
