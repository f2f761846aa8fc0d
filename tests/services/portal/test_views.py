"""The citizen portal's real-name sign-in, tried through its pages as a citizen would."""

from __future__ import annotations

import re
import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from citybase.core.identity.auth import SESSION_COOKIE
from citybase.core.ledger.models import LedgerEntry
from citybase.core.settings import Settings
from citybase.core.sms.models import SmsMessage
from citybase.core.web import captcha
from citybase.core.web.i18n import LANG_COOKIE
from citybase.hub.cases.schemas import CaseCreate
from citybase.services.hotline import service as hotline
from citybase.services.portal import service
from citybase.services.portal.models import PortalPhone
from tests.core.identity.factories import login_token, sign_in
from tests.data.sharing.factories import NAMES, citizen_id
from tests.services.onething.factories import OneThingCity, onething_city

# persons 3 and 4 of the factories' files: registered applicants zhangsan and lisi
PHONE3, PHONE4, PHONE5 = "13800130003", "13800130004", "13800130005"


@pytest.fixture
def city(session: Session, settings: Settings) -> OneThingCity:
    settings.hub.portal_captcha = False  # one test below keeps it
    return onething_city(session, settings)


def _last_code(session: Session, phone: str) -> str:
    row = session.scalars(select(SmsMessage).where(SmsMessage.phone == phone)
                          .order_by(SmsMessage.id.desc())).first()  # fmt: skip
    assert row is not None
    found = re.search(r"\d{6}", row.text)
    assert found, row.text
    return found[0]


def _codes_sent(session: Session, phone: str) -> int:
    rows = session.scalars(select(SmsMessage).where(SmsMessage.phone == phone)).all()
    return sum(1 for r in rows if re.search(r"\d{6}", r.text))


def _ask(client: TestClient, path: str, **data: str) -> object:
    return client.post(path, data={"login_token": login_token(client), **data},
                       follow_redirects=False)  # fmt: skip


def _register(client: TestClient, session: Session, name: str, number: str, phone: str) -> object:
    sent = _ask(client, "/portal/register", name=name, number=number, phone=phone)
    assert sent.status_code == 200, sent.text  # type: ignore[attr-defined]
    return _ask(client, "/portal/register", phone=phone, code=_last_code(session, phone))


def _entries(session: Session, action: str) -> list[LedgerEntry]:
    return list(session.scalars(select(LedgerEntry).where(LedgerEntry.action == action)))


def test_a_citizen_registers_with_his_real_name_and_signs_in_by_code(
    client: TestClient, session: Session, settings: Settings, city: OneThingCity
) -> None:
    done = _register(client, session, NAMES[3], citizen_id(3), PHONE3)
    assert done.status_code == 303
    assert done.headers["location"] == "/portal/mine"
    mine = client.get("/portal/mine")
    assert mine.status_code == 200
    assert "居住证" in mine.text
    assert "/certificates/verify?c=" in mine.text
    assert "<svg" in mine.text  # the QR code
    # the ID already had an applicant account (zhangsan, by the CLI): the phone is tied to it
    row = session.scalars(select(PortalPhone).where(PortalPhone.phone_tag ==
                                                    service.phone_tag(settings, PHONE3))).one()  # fmt: skip
    assert row.user_id == city.applicant.user_id
    registered = _entries(session, "portal.register")
    assert len(registered) == 1
    assert citizen_id(3) not in str(registered[0].details)
    assert PHONE3 not in str(registered[0].details)
    client.cookies.clear()
    assert client.get("/portal/mine", follow_redirects=False).status_code in (303, 401)
    sent = _ask(client, "/portal/signin", phone=PHONE3)
    assert sent.status_code == 200
    assert "138****0003" in sent.text
    signed = _ask(client, "/portal/signin", phone=PHONE3, code=_last_code(session, PHONE3))
    assert signed.status_code == 303  # type: ignore[attr-defined]
    assert "居住证" in client.get("/portal/mine").text
    assert any(e.details.get("method") == "sms" for e in _entries(session, "login.success"))


def test_a_first_time_citizen_gets_a_new_applicant_account(
    client: TestClient, session: Session, city: OneThingCity
) -> None:
    done = _register(client, session, NAMES[5], citizen_id(5), PHONE5)
    assert done.status_code == 303  # type: ignore[attr-defined]
    mine = client.get("/portal/mine")
    assert mine.status_code == 200
    assert "我的" in mine.text
    assert "尚未完成实名" not in mine.text


def test_another_persons_id_with_ones_own_phone_is_refused_naming_no_field(
    client: TestClient, session: Session, city: OneThingCity
) -> None:
    for name, number in ((NAMES[4], citizen_id(4)), (NAMES[3], citizen_id(4)),
                         (NAMES[4], citizen_id(3))):  # fmt: skip
        refused = _ask(client, "/portal/register", name=name, number=number, phone=PHONE3)
        assert refused.status_code == 422  # type: ignore[attr-defined]
        assert "未通过实名核验" in refused.text  # type: ignore[attr-defined]
    assert _codes_sent(session, PHONE3) == 0
    assert len(_entries(session, "portal.register.refused")) == 3
    assert not session.scalars(select(PortalPhone)).all()
    assert SESSION_COOKIE not in client.cookies


def _tied(session: Session, settings: Settings, city: OneThingCity) -> None:
    service.tie_phone(session, settings, city.applicant.user_id, PHONE3)
    service.tie_phone(session, settings, city.other.user_id, PHONE4)


def test_wrong_codes_the_sixth_try_and_another_numbers_code_sign_nobody_in(
    client: TestClient, session: Session, settings: Settings, city: OneThingCity
) -> None:
    _tied(session, settings, city)
    _ask(client, "/portal/signin", phone=PHONE3)
    code = _last_code(session, PHONE3)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    refused = _ask(client, "/portal/signin", phone=PHONE3, code=wrong)
    assert refused.status_code == 401
    assert "验证码错误" in refused.text
    other = _ask(client, "/portal/signin", phone=PHONE4, code=code)  # no code was sent to PHONE4
    assert other.status_code == 401  # type: ignore[attr-defined]
    _ask(client, "/portal/signin", phone=PHONE4)  # a code is sent to PHONE4: still not this one
    if _last_code(session, PHONE4) != code:
        assert _ask(client, "/portal/signin", phone=PHONE4, code=code).status_code == 401  # type: ignore[attr-defined]
    for _ in range(4):  # five wrong entries in all
        _ask(client, "/portal/signin", phone=PHONE3, code=wrong)
    sixth = _ask(client, "/portal/signin", phone=PHONE3, code=code)  # right, but the sixth try
    assert sixth.status_code == 401  # type: ignore[attr-defined]
    assert SESSION_COOKIE not in client.cookies
    assert client.get("/portal/mine", follow_redirects=False).status_code in (303, 401)
    reasons = [e.details.get("reason") for e in _entries(session, "portal.signin.refused")]
    assert "tries" in reasons
    assert "wrong" in reasons
    assert all(PHONE3 not in str(e.details) for e in _entries(session, "portal.signin.refused"))


def test_an_expired_code_signs_nobody_in(
    client: TestClient, session: Session, settings: Settings, city: OneThingCity, app: object
) -> None:
    _tied(session, settings, city)
    _ask(client, "/portal/signin", phone=PHONE3)
    code = _last_code(session, PHONE3)
    store = app.state.shared  # type: ignore[attr-defined]
    key = service.CODE_KEY + f"signin:{service.phone_tag(settings, PHONE3)}"
    store.put(key, store.get(key), 0.05)  # the same code, its time run out
    time.sleep(0.1)
    refused = _ask(client, "/portal/signin", phone=PHONE3, code=code)
    assert refused.status_code == 401
    assert SESSION_COOKIE not in client.cookies


def test_an_unregistered_number_gets_no_code_and_the_page_does_not_tell(
    client: TestClient, session: Session, city: OneThingCity
) -> None:
    known = _ask(client, "/portal/signin", phone=PHONE5)
    assert known.status_code == 200
    assert "138****0005" in known.text
    assert _codes_sent(session, PHONE5) == 0
    assert "尚未在市民门户实名注册" in session.scalars(select(SmsMessage)).one().text


def test_one_citizen_sees_his_own_certificates_and_requests_only(
    client: TestClient, session: Session, settings: Settings, city: OneThingCity
) -> None:
    _tied(session, settings, city)
    made = hotline.portal_submit(session, CaseCreate(
        text="鼓楼区五四路路灯不亮已经三天了", reporter_phone=PHONE3, address="鼓楼区五四路",
    ), settings)  # fmt: skip
    _ask(client, "/portal/signin", phone=PHONE4)
    _ask(client, "/portal/signin", phone=PHONE4, code=_last_code(session, PHONE4))
    theirs = client.get("/portal/mine").text
    assert "居住证" not in theirs
    assert made.number not in theirs
    client.cookies.clear()
    _ask(client, "/portal/signin", phone=PHONE3)
    _ask(client, "/portal/signin", phone=PHONE3, code=_last_code(session, PHONE3))
    mine = client.get("/portal/mine").text
    assert "居住证" in mine
    assert made.number in mine


def test_the_limits_hold(
    client: TestClient, session: Session, settings: Settings, city: OneThingCity
) -> None:
    _tied(session, settings, city)
    settings.portal.codes_per_phone_hour = 2
    for _ in range(2):
        assert _ask(client, "/portal/signin", phone=PHONE3).status_code == 200  # type: ignore[attr-defined]
    held = _ask(client, "/portal/signin", phone=PHONE3)
    assert held.status_code == 429
    assert "过于频繁" in held.text
    assert _codes_sent(session, PHONE3) == 2
    settings.portal.checks_per_number_day = 2
    for _ in range(2):
        _ask(client, "/portal/register", name=NAMES[4], number=citizen_id(4), phone=PHONE3)
    held = _ask(client, "/portal/register", name=NAMES[4], number=citizen_id(4), phone=PHONE4)
    assert held.status_code == 429
    assert _codes_sent(session, PHONE4) == 0


def test_the_picture_code_is_asked_for(
    client: TestClient, session: Session, settings: Settings, city: OneThingCity
) -> None:
    _tied(session, settings, city)
    settings.hub.portal_captcha = True
    page = client.get("/portal/signin").text
    token = re.search(r'name="captcha_token" value="([^"]+)"', page)
    assert token
    wrong = _ask(client, "/portal/signin", phone=PHONE3, captcha_token=token[1], captcha="0000")
    assert wrong.status_code == 422
    assert _codes_sent(session, PHONE3) == 0
    page = client.get("/portal/signin").text
    token = re.search(r'name="captcha_token" value="([^"]+)"', page)
    assert token
    right = _ask(client, "/portal/signin", phone=PHONE3, captcha_token=token[1],
                 captcha=captcha.read(settings, token[1])[0])  # fmt: skip
    assert right.status_code == 200
    assert _codes_sent(session, PHONE3) == 1


def test_a_sign_in_form_from_elsewhere_is_refused(
    client: TestClient, session: Session, settings: Settings, city: OneThingCity
) -> None:
    _tied(session, settings, city)
    forged = client.post("/portal/signin", data={"login_token": "x" * 64, "phone": PHONE3})
    assert forged.status_code == 403
    assert _codes_sent(session, PHONE3) == 0


def test_the_sms_log_is_for_platform_admins(
    client: TestClient, session: Session, settings: Settings, city: OneThingCity
) -> None:
    _tied(session, settings, city)
    _ask(client, "/portal/signin", phone=PHONE3)
    code = _last_code(session, PHONE3)
    anonymous = client.get("/console/sms", follow_redirects=False)
    assert anonymous.status_code in (303, 401)
    assert code not in anonymous.text
    sign_in(client, "zhangsan")
    assert client.get("/console/sms").status_code == 403
    client.cookies.clear()
    sign_in(client, "root")  # the factories' platform admin
    assert code in client.get("/console/sms").text


def test_the_english_page_speaks_english(
    client: TestClient, session: Session, city: OneThingCity
) -> None:
    client.cookies.set(LANG_COOKIE, "en")
    assert "Real-name registration" in client.get("/portal/register").text
    refused = _ask(client, "/portal/register", name=NAMES[4], number=citizen_id(4), phone=PHONE3)
    assert refused.status_code == 422  # type: ignore[attr-defined]
    assert "do not pass the real-name check" in refused.text  # type: ignore[attr-defined]
    assert "未通过" not in refused.text  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("asked", "lands"),
    [("/portal/mine?tab=certificates", "/portal/mine?tab=certificates"),
     ("//evil.example/portal/", "/portal/mine"), ("/console/ledger", "/portal/mine")],
)  # fmt: skip
def test_a_citizen_sent_to_sign_in_comes_back_to_the_portal_page_that_asked(
    client: TestClient, session: Session, settings: Settings, city: OneThingCity, asked: str,
    lands: str,
) -> None:  # fmt: skip
    _tied(session, settings, city)
    # a citizen's page asked by nobody: the portal's SMS sign-in, never the staff's sign-in page
    sent = client.get("/portal/mine?tab=certificates", headers={"Accept": "text/html"},
                      follow_redirects=False)  # fmt: skip
    assert sent.headers["location"] == "/portal/signin?next=/portal/mine%3Ftab%3Dcertificates"
    page = client.get(f"/portal/signin?next={asked}")
    assert f'name="next" value="{lands}"' in page.text  # only a portal page is gone back to
    _ask(client, "/portal/signin", phone=PHONE3, next=asked)
    signed = _ask(client, "/portal/signin", phone=PHONE3, code=_last_code(session, PHONE3),
                  next=asked)  # fmt: skip
    assert signed.headers["location"] == lands  # type: ignore[attr-defined]
