"""Form tokens: a form that makes something, sent twice, makes it once; without a token of ours
it makes nothing and says why in Chinese."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from citybase.core.errors import InvalidInput
from citybase.core.settings import Settings
from citybase.core.web import once
from citybase.core.web.models import SpentFormToken
from citybase.data.sharing.models import Demand
from citybase.hub.cases.models import Case
from tests.core.identity.factories import sign_in
from tests.data.sharing.factories import shared_city
from tests.hub.cases.factories import city

REPORT = {"text": "鼓东路口的井盖缺失了，晚上很危险", "address": "鼓楼区鼓东街道虎节社区鼓东路",
          "category_code": "0102", "reporter_phone": "13805911234", "do": "send"}  # fmt: skip


def _count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def test_a_token_is_ours_and_fresh(settings: Settings) -> None:
    token = once.issue(settings)
    assert len(once.digest_of(settings, token)) == 64
    nonce, issued, sig = token.split(".")
    for forged in ("", "x", f"{nonce}.{issued}.{'0' * 32}", f"{nonce}x.{issued}.{sig}",
                   once.issue(Settings(home=settings.home, masking={"key": "11" * 32}))):  # fmt: skip
        with pytest.raises(InvalidInput) as refused:
            once.digest_of(settings, forged)
        assert refused.value.field == "form"  # shown by every form, above its fields
    with pytest.raises(InvalidInput):  # a form left open past a day
        once.digest_of(settings, once.issue(settings, now=0))


def test_the_portal_report_sent_twice_makes_one_case(
    client: TestClient, session: Session, settings: Settings
) -> None:
    settings.hub.portal_captcha = False
    city(session)
    page = client.get("/hotline").text
    token = re.search(r'name="form_token" value="([^"]+)"', page)
    assert token, "no form token on the portal's form"
    before = _count(session, Case)
    first = client.post("/hotline", data=REPORT | {"form_token": token[1]})
    assert first.status_code == 200
    [number] = re.findall(r'<strong class="mono">([^<]+)</strong>', first.text)
    again = client.post("/hotline", data=REPORT | {"form_token": token[1]},
                        follow_redirects=False)  # fmt: skip
    assert again.status_code == 303
    assert again.headers["location"] == f"/hotline/track?number={number}&sent=1"
    assert _count(session, Case) == before + 1
    landed = client.get(again.headers["location"])
    assert "该诉求已受理" in landed.text
    assert number in landed.text


@pytest.mark.parametrize("token", ["", "made-up.123.abc"])
def test_the_portal_refuses_a_form_without_our_token(
    client: TestClient, session: Session, settings: Settings, token: str
) -> None:
    settings.hub.portal_captcha = False
    city(session)
    before = _count(session, Case)
    refused = client.post("/hotline", data=REPORT | {"form_token": token})
    assert refused.status_code == 422
    assert "表单已过期或并非本站签发" in refused.text
    assert "鼓东路口的井盖缺失了" in refused.text  # what was typed is kept
    assert _count(session, Case) == before


def test_a_console_form_sent_twice_makes_one_demand(
    client: TestClient, session: Session, form_token
) -> None:  # type: ignore[no-untyped-def]
    shared_city(session)
    csrf = sign_in(client, "healthuser")
    page = client.get("/console/sharing/demands").text
    token = re.search(r'name="form_token" value="([^"]+)"', page)
    assert token, "no form token on the demand form"
    data = {"csrf_token": csrf, "form_token": token[1], "title": "违法当事人名单",
            "description": "医保稽核比对所需", "purpose": "医保基金稽核", "legal_basis": "条例",
            "items": "姓名\n性别"}  # fmt: skip
    before = _count(session, Demand)
    first = client.post("/console/sharing/demands", data=data, follow_redirects=False)
    second = client.post("/console/sharing/demands", data=data, follow_redirects=False)
    assert (first.status_code, second.status_code) == (303, 303)
    assert second.headers["location"] == first.headers["location"]
    assert _count(session, Demand) == before + 1

    missing = client.post("/console/sharing/demands", data=data | {"form_token": ""},
                          headers={"Accept": "text/html"})  # fmt: skip
    assert missing.status_code == 422
    assert "表单已过期或并非本站签发" in missing.text
    assert _count(session, Demand) == before + 1
    # a refused submission gives its token back: the corrected form goes through with it
    fresh = form_token()
    bad = client.post("/console/sharing/demands", data=data | {"form_token": fresh, "title": ""})
    assert bad.status_code == 422
    good = client.post("/console/sharing/demands", data=data | {"form_token": fresh},
                       follow_redirects=False)  # fmt: skip
    assert good.status_code == 303
    assert _count(session, Demand) == before + 2
    assert _count(session, SpentFormToken) >= 2
