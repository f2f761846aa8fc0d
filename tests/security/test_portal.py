"""A citizen's request looked up with the wrong phone — on the portal's follow-up page and
through the public Open311 API: nothing of it is shown, a rating with the wrong phone changes
nothing, a wrong phone answers exactly as a wrong number does, and the limiter shuts a number
against guessing after a few wrong phones (even the right one is then turned away)."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from citybase.core.settings import Settings
from citybase.core.web import captcha
from citybase.hub.cases.models import Case, CaseStep
from tests.security.people import act_as, count, demo_city, ledger_since, ledger_size

PHONE = "13805911234"
REQUEST = {
    "text": "鼓东路口的井盖缺失了，晚上很危险", "address": "鼓楼区鼓东街道虎节社区鼓东路",
    "region_code": "", "category_code": "0102", "reporter_phone": PHONE,
    "reporter_name": "林", "do": "send",
}  # fmt: skip
WRONG = ["13900000000", "138 0591 1235", "+8613805911233", "", "0591-8888888", "x' OR '1'='1",
         "%", "1380591123_"]  # fmt: skip


def _code(client: TestClient, settings: Settings) -> dict[str, str]:
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


@pytest.fixture
def number(client: TestClient, session: Session, settings: Settings) -> str:
    demo_city(session)
    made = client.post("/hotline", data=REQUEST | _code(client, settings))
    assert made.status_code == 200, made.text
    found = re.findall(r"FZ\d{15}", made.text)
    assert found, made.text
    return str(found[0])


def _state(session: Session, number: str) -> tuple[object, ...]:
    session.expire_all()
    row = session.query(Case).filter_by(number=number).one()
    return (row.state, row.satisfaction, row.followed_up_at, count(session, CaseStep))


def test_a_wrong_phone_shows_nothing_and_answers_as_a_wrong_number(
    client: TestClient, session: Session, number: str
) -> None:
    before, size = _state(session, number), ledger_size(session)
    unknown = client.post("/hotline/track", data={"number": "FZ209912310000001", "phone": PHONE})
    assert unknown.status_code == 404
    for phone in WRONG[:4]:  # within the limit of wrong phones for one number
        wrong = client.post("/hotline/track", data={"number": number, "phone": phone})
        assert wrong.status_code == 404, phone
        # the same page as for a number that does not exist, the number and phone typed back
        assert wrong.text.replace(number, "N").replace(f'value="{phone}"', "P") == unknown.text.replace(
            "FZ209912310000001", "N").replace(f'value="{PHONE}"', "P")  # fmt: skip
        assert "井盖" not in wrong.text
        assert "派单" not in wrong.text
    assert _state(session, number) == before
    assert ledger_since(session, size) == []


def test_a_rating_with_a_wrong_phone_changes_nothing(
    client: TestClient, session: Session, number: str
) -> None:
    before, size = _state(session, number), ledger_size(session)
    for verdict in ("satisfied", "unsatisfied"):
        r = client.post("/hotline/track", data={"number": number, "phone": "13900000000",
                                                "satisfaction": verdict, "note": "很好"})  # fmt: skip
        assert r.status_code == 404
    assert _state(session, number) == before
    assert ledger_since(session, size) == []


def test_the_limiter_shuts_guessing(
    client: TestClient, session: Session, settings: Settings, number: str
) -> None:
    wrong_phones = settings.hub.portal_wrong_phones
    assert wrong_phones > 0
    for i in range(wrong_phones):
        r = client.post("/hotline/track", data={"number": number, "phone": f"139000000{i:02d}"})
        assert r.status_code == 404
    # the number is shut: the right phone too, and the number spelt with spaces around it
    for typed in (number, f"  {number} ", f"{number}\n"):
        shut = client.post("/hotline/track", data={"number": typed, "phone": PHONE})
        assert shut.status_code == 429, typed
        assert int(shut.headers["Retry-After"]) > 0
        assert "井盖" not in shut.text
    rating = client.post("/hotline/track", data={"number": number, "phone": PHONE,
                                                 "satisfaction": "satisfied"})  # fmt: skip
    assert rating.status_code == 429
    # another number is not shut by them
    other = client.post("/hotline/track", data={"number": "FZ209912310000001", "phone": PHONE})
    assert other.status_code == 404


def test_one_address_may_look_up_only_so_often(
    client: TestClient, session: Session, settings: Settings, number: str
) -> None:
    """Guessing across many numbers is bounded per client address."""
    limit = settings.hub.portal_lookups_per_hour
    for i in range(limit):
        r = client.post("/hotline/track", data={"number": f"FZ2099123100{i:05d}", "phone": PHONE})
        assert r.status_code == 404
    r = client.post("/hotline/track", data={"number": number, "phone": PHONE})
    assert r.status_code == 429
    assert "井盖" not in r.text


def test_open311_shows_no_contact_and_no_unredacted_words(
    client: TestClient, session: Session, settings: Settings
) -> None:
    """Open311's read side is public by the standard, so whatever it shows of a request is
    shown to anyone who has its number: never the phone or name, and free text — the request,
    its address, the unit's reply — with personal details taken out."""
    demo_city(session)
    made = client.post("/hotline", data=REQUEST | _code(client, settings) | {
        "text": "我叫林小明，电话13805911234，身份证350102199001011234，鼓东路口井盖缺失"})  # fmt: skip
    assert made.status_code == 200, made.text
    number = re.findall(r"FZ\d{15}", made.text)[0]
    handler = act_as(client, "handler")
    for action, body in (
        ("sign", {}),
        ("reply", {"reply": "已联系林小明（13805911234），井盖已补装"}),
    ):
        r = client.post(f"/api/v1/hub/cases/{number}/actions/{action}", json=body,
                        headers=handler)  # fmt: skip
        assert r.status_code == 200, r.text
    client.cookies.clear()
    for fmt in ("json", "xml"):
        for path in (f"/open311/v2/requests/{number}.{fmt}",
                     f"/open311/v2/requests.{fmt}?service_request_id={number}"):  # fmt: skip
            r = client.get(path)
            assert r.status_code == 200, r.text
            assert "井盖" in r.text  # the matter itself is shown
            assert "13805911234" not in r.text, path
            assert "350102199001011234" not in r.text, path
    track = client.post("/hotline/track", data={"number": number, "phone": PHONE})
    assert "井盖已补装" in track.text  # the citizen sees the reply in full
