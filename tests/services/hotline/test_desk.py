"""The operator's desk: the classifier's suggestion stays chosen, an empty unit is left to the
dispatch catalog, and a lead unit is chosen from a list of names."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from citybase.core.settings import Settings
from citybase.hub.cases import service as cases
from citybase.hub.dispatch import classifier as learning
from tests.core.identity.factories import sign_in
from tests.hub.cases.factories import city

CALL = {"reporter_phone": "13805911234", "text": "井盖缺失破损，在8号附近",
        "address": "台江区苍霞街道苍霞社区", "region_code": "", "category_code": "",
        "urgency": "normal", "source": "hotline", "channel": "phone"}  # fmt: skip


def _trained(settings: Settings) -> None:
    texts = [f"{w}{n}号附近" for n in range(30) for w in ("井盖缺失破损", "路灯不亮故障")]
    model = learning.Classifier.train(texts, ["010202", "010203"] * 30, "cases", "test")
    learning.save(model, settings.home)


def _number(response) -> str:  # type: ignore[no-untyped-def]
    assert response.status_code == 303, response.text
    return str(response.headers["location"].split("/")[-1].split("?")[0])


def test_the_suggestion_stays_chosen_and_the_catalog_routes(
    client: TestClient, session: Session, settings: Settings, form_token
) -> None:  # type: ignore[no-untyped-def]
    city(session)
    _trained(settings)
    csrf = sign_in(client, "operator")
    checked = client.post("/console/hotline/desk", data=CALL | {"do": "check", "csrf_token": csrf})
    assert checked.status_code == 200
    assert re.search(r'<option value="010202" selected>[^<]*推荐', checked.text)
    # an error on the next step draws the form again: the kept category is still chosen
    again = client.post("/console/hotline/desk", data=CALL | {
        "category_code": "010202", "reporter_phone": "1", "csrf_token": csrf,
        "form_token": form_token()})  # fmt: skip
    assert again.status_code == 422
    assert '<option value="010202" selected>' in again.text
    # accepted with the unit left empty: the catalog's line for 0102 in Taijiang takes it
    sent = client.post("/console/hotline/desk", follow_redirects=False, data=CALL | {
        "category_code": "010202", "lead_unit": "", "csrf_token": csrf,
        "form_token": form_token()})  # fmt: skip
    case = cases.get_for_system(session, _number(sent))
    assert (case.category_code, case.lead_unit, case.state.value) == (
        "010202",
        "tj.urban",
        "dispatched",
    )


def test_the_lead_unit_is_chosen_by_name(client: TestClient, session: Session, form_token) -> None:  # type: ignore[no-untyped-def]
    city(session)
    csrf = sign_in(client, "operator")
    page = client.get("/console/hotline/desk").text
    picker = re.search(r'<select name="lead_unit">(.*?)</select>', page, re.S)
    assert picker, "no list of lead units on the desk"
    assert '<option value="gl.urban">福州市鼓楼区城市管理局</option>' in picker[1]
    assert 'name="lead_unit" placeholder' not in page
    sent = client.post("/console/hotline/desk", follow_redirects=False, data=CALL | {
        "category_code": "0102", "lead_unit": "gl.urban", "csrf_token": csrf,
        "form_token": form_token()})  # fmt: skip
    case = cases.get_for_system(session, _number(sent))
    assert (case.lead_unit, case.category_code) == ("gl.urban", "0102")  # not the catalog's tj
    # the case's own page offers units by name too, for a dispatch or a reassignment
    page = client.get(f"/console/hub/cases/{case.number}").text
    assert re.search(r'<select name="lead_unit">.*?福州市台江区城市管理局', page, re.S)
