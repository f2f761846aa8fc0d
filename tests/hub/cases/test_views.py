from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from citybase.hub.cases import service
from tests.core.files.factories import photo
from tests.core.identity.factories import sign_in
from tests.hub.cases.factories import city

FORM = {
    "reporter_phone": "13805911234", "reporter_name": "林小明",
    "text": "鼓东路口的井盖缺失了，晚上很危险", "address": "鼓楼区鼓东街道虎节社区",
    "region_code": "", "category_code": "010202", "urgency": "normal", "source": "hotline",
    "channel": "phone",
}  # fmt: skip


def test_the_desk_the_inbox_and_a_case_page(
    client: TestClient, session: Session, form_token
) -> None:  # type: ignore[no-untyped-def]
    city(session)
    token = sign_in(client, "operator")
    desk = client.get("/console/hotline/desk")
    assert desk.status_code == 200
    assert "12345 受理台" in desk.text
    checked = client.post("/console/hotline/desk", data=FORM | {"do": "check", "csrf_token": token})
    assert checked.status_code == 200
    assert "尚未训练分类模型" in checked.text
    assert "350102001001" in checked.text
    # checking writes nothing: no case number (a random token on the page may hold "FZ")
    assert not re.search(r"FZ\d{15}", checked.text)
    made = client.post("/console/hotline/desk", data=FORM | {"do": "accept", "csrf_token": token, "form_token": form_token()},
                       files=[("files", ("微信截图.png", photo(kind="PNG"), "image/png")),
                              ("files", ("", b"", "application/octet-stream"))],
                       follow_redirects=False)  # fmt: skip
    assert made.status_code == 303
    number = made.headers["location"].split("/")[-1].split("?")[0]
    assert [a.name for a in service.get_for_system(session, number).attachments] == ["微信截图.png"]
    again = client.post("/console/hotline/desk", data=FORM | {"do": "check", "csrf_token": token})
    assert "疑似重复工单" in again.text
    assert number in again.text
    bad = client.post("/console/hotline/desk",
                      data=FORM | {"reporter_phone": "12", "csrf_token": token, "form_token": form_token()})  # fmt: skip
    assert bad.status_code == 422
    assert "reporter_phone" in bad.text

    client.cookies.clear()
    token = sign_in(client, "gl.handler")
    inbox = client.get("/console/hub/cases?state=dispatched")
    assert number in inbox.text
    page = client.get(f"/console/hub/cases/{number}")
    assert "138****1234" in page.text
    assert "签收" in page.text
    once = form_token()  # the refused step gives it back: the page sends it again
    refused = client.post(f"/console/hub/cases/{number}/act",
                          data={"action": "reply", "reply": "x", "csrf_token": token,
                                "form_token": once},
                          follow_redirects=False)  # fmt: skip
    assert "error=" in refused.headers["location"]
    told = client.get(refused.headers["location"]).text  # the refusal, in the page's words
    assert "工单当前为「派单」，不能答复" in told, told
    assert "is not possible" not in told
    signed = client.post(f"/console/hub/cases/{number}/act",
                         data={"action": "sign", "csrf_token": token, "form_token": once})  # fmt: skip
    assert signed.status_code == 200
    assert "办理记录" in signed.text
    assert "state.signed" not in signed.text
    assert client.get("/console/hub/dispatch").status_code == 403

    client.cookies.clear()
    sign_in(client, "super")
    catalog = client.get("/console/hub/dispatch")
    assert "鼓楼区城市管理局" in catalog.text or "gl.urban" in catalog.text


def test_the_cases_map_and_trend_count_only_the_cases_the_reader_sees(
    client: TestClient, session: Session
) -> None:
    """A district's handler sees the heat, the places and the trend of their own unit's cases,
    never the other district's; the centre's supervisor sees both."""
    from datetime import UTC, datetime, timedelta

    from tests.core.web.maps import map_config
    from tests.hub.cases.factories import ROAD, mover

    city(session)
    now = datetime.now(UTC) - timedelta(hours=1)
    operator = mover(session, "operator")
    gulou = ROAD.model_copy(update={"lon": 119.298, "lat": 26.089})
    taijiang = ROAD.model_copy(
        update={"address": "台江区苍霞街道苍霞社区", "text": "苍霞路井盖缺失"}
    )
    mine = service.intake(session, operator, gulou, now=now).case
    theirs = service.intake(session, operator, taijiang, now=now).case
    assert (mine.lead_unit, theirs.lead_unit) == ("gl.urban", "tj.urban")

    sign_in(client, "gl.handler")
    page = client.get("/console/hub/cases")
    drawn = map_config(page.text, "cases-map")
    assert drawn["outlines"][0]["counts"] == {"350102": 1}
    assert [p[2] for layer in drawn["points"] for p in layer["items"]] == [mine.number]
    assert "近30天每日受理工单" in page.text
    assert '<rect class="series-0"' in page.text

    client.cookies.clear()
    sign_in(client, "super")
    drawn = map_config(client.get("/console/hub/cases").text, "cases-map")
    assert drawn["outlines"][0]["counts"] == {"350102": 1, "350103": 1}
