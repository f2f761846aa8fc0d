from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from citybase.hub.cases import service as cases
from citybase.hub.cases.schemas import Action, ActionIn
from tests.hub.cases.factories import city, mover

REQUEST = {
    "text": "鼓东路口的井盖缺失了，晚上很危险", "address": "鼓楼区鼓东街道虎节社区鼓东路",
    "region_code": "", "category_code": "0102", "reporter_phone": "138 0591 1234",
    "reporter_name": "林",
}  # fmt: skip


def test_a_citizen_submits_follows_and_rates(client: TestClient, session: Session) -> None:
    city(session)
    page = client.get("/hotline")
    assert page.status_code == 200
    assert "我要反映" in page.text
    suggested = client.post("/hotline", data=REQUEST | {"do": "suggest"})
    assert suggested.status_code == 200
    no_phone = client.post("/hotline", data=REQUEST | {"reporter_phone": "", "do": "send"})
    assert no_phone.status_code == 422
    made = client.post("/hotline", data=REQUEST | {"do": "send"})
    assert made.status_code == 200
    [number] = [w for w in made.text.replace("<", " ").replace(">", " ").split() if
                w.startswith("FZ")]  # fmt: skip
    case = cases.get_for_system(session, number)
    assert (case.source.value, case.lead_unit) == ("portal", "gl.urban")

    wrong = client.post("/hotline/track", data={"number": number, "phone": "13900000000"})
    assert wrong.status_code == 404
    assert "no case with this number and phone" in wrong.text
    found = client.post("/hotline/track", data={"number": number, "phone": "13805911234"})
    assert found.status_code == 200
    assert "派单" in found.text
    assert "gl.handler" not in found.text  # who handled it stays inside
    assert "评价答复" not in found.text  # nothing to rate before the reply

    handler = mover(session, "gl.handler")
    cases.act(session, handler, number, Action.sign, ActionIn())
    cases.act(session, handler, number, Action.reply, ActionIn(reply="井盖已补装，感谢反映。"))
    replied = client.post("/hotline/track", data={"number": number, "phone": "13805911234"})
    assert "井盖已补装" in replied.text
    assert "评价答复" in replied.text
    rated = client.post("/hotline/track", data={"number": number, "phone": "13805911234",
                                                "satisfaction": "basic", "note": "还行"})  # fmt: skip
    assert rated.status_code == 200
    assert "感谢您的评价" in rated.text
    assert cases.get_for_system(session, number).satisfaction.value == "basic"  # type: ignore[union-attr]
    again = client.post("/hotline/track", data={"number": number, "phone": "13805911234",
                                                "satisfaction": "basic"})  # fmt: skip
    assert again.status_code == 409  # the verdict is given once
