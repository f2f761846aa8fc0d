"""Every message a form shows with its errors is in the page's language and names the field by
its label: forms sent wrong on purpose, their error notices read for English."""

from __future__ import annotations

import html
import re

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from citybase.core.settings import Settings
from citybase.core.web import i18n
from tests.core.identity.factories import sign_in
from tests.data.catalog.factories import catalog_people
from tests.data.opendata.factories import open_datasets
from tests.data.sharing.factories import shared_city
from tests.hub.cases.factories import city

NOTICE = re.compile(r'<(p|div|span) class="notice error"[^>]*>(.*?)</\1>', re.S)
ASCII_WORD = re.compile(r"[A-Za-z_]{3,}")


def _notices(page: str) -> list[str]:
    return [html.unescape(re.sub(r"<[^>]+>", " ", m.group(2))) for m in NOTICE.finditer(page)]


def _english_in(page: str, fields: set[str]) -> list[str]:
    """The words of the page's error notices that are English: a field's name, a word of an
    English message the catalogue translates, or any run of Latin letters (no code, number or
    address typed into these forms has one)."""
    found: list[str] = []
    notices = _notices(page)
    assert notices, "the page shows no error notice"
    english = {w for m in i18n._catalogs["zh"] for w in ASCII_WORD.findall(m)}
    for text in notices:
        for word in ASCII_WORD.findall(text):
            kind = "field" if word in fields else "catalogue" if word in english else "latin"
            found.append(f"{kind}: {word} in {text.strip()!r}")
    return found


def test_public_forms_answer_in_chinese(
    client: TestClient, session: Session, settings: Settings, form_token
) -> None:  # type: ignore[no-untyped-def]
    settings.hub.portal_captcha = False
    city(session)
    no_phone = client.post("/hotline", data={"text": "井盖", "address": "", "reporter_phone": "12",
                                             "do": "send", "form_token": form_token()})  # fmt: skip
    assert no_phone.status_code == 422
    assert _english_in(no_phone.text, {"text", "address", "reporter_phone"}) == []
    missing = client.post("/hotline", data={"text": "鼓东路口的井盖缺失了", "do": "send"})
    assert "表单" in " ".join(_notices(missing.text))
    assert _english_in(missing.text, {"form_token"}) == []


def test_the_open_data_application_answers_in_chinese(
    client: TestClient, session: Session, form_token
) -> None:  # type: ignore[no-untyped-def]
    code = open_datasets(session, catalog_people(session))["conditional"].code
    bad = client.post(f"/open/{code}/apply", data={"applicant": "林", "email": "不是邮箱",
                                                   "purpose": "短", "form_token": form_token()})  # fmt: skip
    assert bad.status_code == 422
    assert _english_in(bad.text, {"applicant", "email", "purpose", "days"}) == []


def test_the_desk_answers_in_chinese(client: TestClient, session: Session, form_token) -> None:  # type: ignore[no-untyped-def]
    city(session)
    csrf = sign_in(client, "operator")
    desk = client.post("/console/hotline/desk", data={
        "csrf_token": csrf, "form_token": form_token(), "text": "短", "reporter_phone": "1"})  # fmt: skip
    assert desk.status_code == 422
    assert _english_in(desk.text, {"text", "reporter_phone", "address"}) == []


def test_sharing_forms_answer_in_chinese(client: TestClient, session: Session, form_token) -> None:  # type: ignore[no-untyped-def]
    shared_city(session)
    csrf = sign_in(client, "healthuser")
    demand = client.post("/console/sharing/demands", data={
        "csrf_token": csrf, "form_token": form_token(), "title": "", "purpose": "短"})  # fmt: skip
    assert demand.status_code == 422
    assert _english_in(demand.text, {"title", "description", "purpose", "legal_basis"}) == []
    share = client.post("/console/sharing/new", data={
        "csrf_token": csrf, "form_token": form_token(), "resource_code": "", "purpose": "x"})  # fmt: skip
    assert share.status_code == 422
    assert _english_in(share.text, {"resource_code", "purpose", "legal_basis", "fields"}) == []
