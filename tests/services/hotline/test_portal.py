from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from citybase.core.errors import InvalidInput
from citybase.core.orgs import boundaries
from citybase.core.settings import Settings
from citybase.core.web import captcha
from citybase.demo.seed import BOUNDARIES_FILE
from citybase.hub.cases import service as cases
from citybase.hub.cases.schemas import Action, ActionIn
from tests.core.files.factories import photo
from tests.hub.cases.factories import SYSTEM, city, mover

REQUEST = {
    "text": "鼓东路口的井盖缺失了，晚上很危险", "address": "鼓楼区鼓东街道虎节社区鼓东路",
    "region_code": "", "category_code": "0102", "reporter_phone": "138 0591 1234",
    "reporter_name": "林",
}  # fmt: skip


def _code(client: TestClient, settings: Settings) -> dict[str, str]:
    """The picture code of a fresh portal page, read as a person would read the picture."""
    page = client.get("/hotline").text
    match = re.search(r'name="captcha_token" value="([^"]+)"', page)
    assert match, "no picture code on the portal"
    form = re.search(r'name="form_token" value="([^"]+)"', page)
    assert form, "no form token on the portal"
    return {
        "captcha_token": match[1],
        "captcha": captcha.read(settings, match[1])[0].lower(),
        "form_token": form[1],
    }  # the page's form token comes with its picture


def test_a_citizen_submits_follows_and_rates(
    client: TestClient, session: Session, settings: Settings
) -> None:
    city(session)
    page = client.get("/hotline")
    assert page.status_code == 200
    assert "我要反映" in page.text
    suggested = client.post("/hotline", data=REQUEST | {"do": "suggest"})
    assert suggested.status_code == 200
    no_phone = client.post(
        "/hotline", data=REQUEST | {"reporter_phone": "", "do": "send"} | _code(client, settings)
    )
    assert no_phone.status_code == 422
    made = client.post("/hotline", data=REQUEST | {"do": "send"} | _code(client, settings))
    assert made.status_code == 200
    [number] = [w for w in made.text.replace("<", " ").replace(">", " ").split() if
                w.startswith("FZ")]  # fmt: skip
    case = cases.get_for_system(session, number)
    assert (case.source.value, case.lead_unit) == ("portal", "gl.urban")

    wrong = client.post("/hotline/track", data={"number": number, "phone": "13900000000"})
    assert wrong.status_code == 404
    assert "工单编号与手机号不符" in wrong.text
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
    assert (
        '<option value="" selected>请选择满意程度</option>' in replied.text
    )  # none chosen for them
    unchosen = client.post("/hotline/track", data={"number": number, "phone": "13805911234",
                                                   "rate": "1", "satisfaction": ""})  # fmt: skip
    assert unchosen.status_code == 422  # sent without a choice: said so, nothing recorded
    assert cases.get_for_system(session, number).satisfaction is None
    rated = client.post("/hotline/track", data={"number": number, "phone": "13805911234",
                                                "satisfaction": "basic", "note": "还行"})  # fmt: skip
    assert rated.status_code == 200
    assert "感谢您的评价" in rated.text
    assert cases.get_for_system(session, number).satisfaction.value == "basic"  # type: ignore[union-attr]
    again = client.post("/hotline/track", data={"number": number, "phone": "13805911234",
                                                "satisfaction": "basic"})  # fmt: skip
    assert again.status_code == 409  # the verdict is given once


def test_the_portal_limits_how_often_one_caller_sends_and_looks(
    client: TestClient, session: Session, settings: Settings
) -> None:
    city(session)
    settings.hub.portal_submissions_per_hour = 3
    settings.hub.portal_submissions_per_phone = 2
    settings.hub.portal_wrong_phones = 2
    texts = [
        "鼓东路口的井盖缺失了，晚上很危险",
        "五一广场的路灯坏了一整排",
        "东街口地铁站出口积水严重",
    ]
    numbers = []
    for text in texts[:2]:
        made = client.post("/hotline", data=REQUEST | {"text": text, "do": "send"} | _code(
            client, settings))  # fmt: skip
        assert made.status_code == 200
        numbers += [w for w in made.text.replace("<", " ").replace(">", " ").split()
                    if w.startswith("FZ")]  # fmt: skip
    same_phone = client.post("/hotline", data=REQUEST | {"text": texts[2], "do": "send"} | _code(
        client, settings))  # fmt: skip
    assert same_phone.status_code == 429
    assert "提交过于频繁" in same_phone.text
    assert int(same_phone.headers["Retry-After"]) > 3600  # the phone's window is a day
    other_phone = client.post("/hotline", data=REQUEST | {
        "text": texts[2], "reporter_phone": "13905910000", "do": "send"} | _code(
        client, settings))  # fmt: skip
    assert other_phone.status_code == 429  # the fourth from this address in the hour
    assert 0 < int(other_phone.headers["Retry-After"]) <= 3600
    number = numbers[0]
    for phone in ("13900000000", "13900000001"):
        wrong = client.post("/hotline/track", data={"number": number, "phone": phone})
        assert wrong.status_code == 404
    right = client.post("/hotline/track", data={"number": number, "phone": "13805911234"})
    assert right.status_code == 429  # the number is shut for the hour after two wrong phones
    other = client.post("/hotline/track", data={"number": "FZ000", "phone": "13805911234"})
    assert other.status_code == 404  # other numbers are not


def test_a_citizen_may_give_their_location_instead_of_an_address(
    client: TestClient, session: Session, settings: Settings
) -> None:
    city(session)
    assert boundaries.import_boundaries(session, SYSTEM, BOUNDARIES_FILE.read_bytes()).applied
    page = client.get("/hotline").text
    assert "使用我的位置" in page  # the button, shown by the script where the browser can locate
    assert '<script src="/static/core/locate.js" defer>' in page
    assert client.get("/static/core/locate.js").status_code == 200
    located = REQUEST | {"address": "", "lon": "119.298", "lat": "26.089", "do": "send"}
    made = client.post("/hotline", data=located | _code(client, settings))
    assert made.status_code == 200, made.text
    [number] = [w for w in made.text.replace("<", " ").replace(">", " ").split() if
                w.startswith("FZ")]  # fmt: skip
    case = cases.get_for_system(session, number)
    assert (case.grid_code, case.lead_unit) == ("350102001001G02", "gl.urban")
    half = client.post(
        "/hotline", data=located | {"lat": ""} | _code(client, settings)
    )  # a longitude alone
    assert half.status_code == 422


def test_a_citizen_sends_photos_and_one_that_says_where_places_the_request(
    client: TestClient, session: Session, settings: Settings
) -> None:
    city(session)
    assert boundaries.import_boundaries(session, SYSTEM, BOUNDARIES_FILE.read_bytes()).applied
    page = client.get("/hotline").text
    assert 'enctype="multipart/form-data"' in page
    assert "<title>12345 市民服务 · citybase</title>" in page  # no script inside the title
    snapshot = ("现场.jpg", photo(lon=119.298, lat=26.089), "image/jpeg")
    send = REQUEST | {"address": "", "do": "send"}
    too_many = client.post("/hotline", data=send | _code(client, settings),
                           files=[("photos", snapshot)] * 4)  # fmt: skip
    assert too_many.status_code == 422
    assert "最多上传三张照片" in too_many.text
    assert too_many.text.count('name="kept_photos"') == 3  # kept, by reference, up to three
    not_a_photo = client.post("/hotline", data=send | _code(client, settings),
                              files=[("photos", ("a.jpg", b"MZ\x90\x00", "image/jpeg"))])  # fmt: skip
    assert not_a_photo.status_code == 422
    assert 'name="kept_photos"' not in not_a_photo.text  # what is no photo is not kept
    made = client.post("/hotline", data=send | _code(client, settings),
                       files=[("photos", snapshot), ("photos", ("", b"", "application/octet-stream"))])  # fmt: skip
    assert made.status_code == 200, made.text
    [number] = [w for w in made.text.replace("<", " ").replace(">", " ").split() if
                w.startswith("FZ")]  # fmt: skip
    case = cases.get_for_system(session, number)
    assert (case.grid_code, case.lead_unit) == ("350102001001G02", "gl.urban")
    assert [a.name for a in case.attachments] == ["现场.jpg"]
    followed = client.post("/hotline/track", data={"number": number, "phone": "13805911234"})
    assert followed.status_code == 200
    assert 'alt="现场.jpg"' in followed.text
    assert 'src="data:image/jpeg;base64,' in followed.text  # the preview, without its EXIF


def test_a_request_needs_the_code_of_its_picture_once(
    client: TestClient, session: Session, settings: Settings, form_token
) -> None:  # type: ignore[no-untyped-def]
    city(session)
    page = client.get("/hotline").text
    assert 'src="data:image/png;base64,' in page
    send = REQUEST | {"do": "send"}
    missing = client.post("/hotline", data=send | {"form_token": form_token()})
    assert missing.status_code == 422
    assert "验证码已过期" in missing.text  # no token: as good as an old one
    code = _code(client, settings)
    wrong = client.post("/hotline", data=send | code | {"captcha": "0000"})
    assert wrong.status_code == 422
    assert "验证码：验证码不正确" in wrong.text
    again = client.post("/hotline", data=send | code)  # the right code, but its picture was used
    assert "验证码已使用" in again.text
    forged = client.post(
        "/hotline", data=send | code | {"captcha_token": code["captcha_token"][:-4] + "AAAA"}
    )
    assert forged.status_code == 422
    assert client.post("/hotline", data=send | _code(client, settings)).status_code == 200
    with pytest.raises(InvalidInput, match="expired"):
        captcha.read(settings.model_copy(update={"masking": settings.masking.model_copy(
            update={"key": "another city's key"})}), code["captcha_token"])  # fmt: skip
    settings.hub.portal_captcha = False
    assert 'name="captcha"' not in client.get("/hotline").text
    assert (
        client.post(
            "/hotline", data=send | {"text": "五一广场的路灯坏了一整排", "form_token": form_token()}
        ).status_code
        == 200
    )
